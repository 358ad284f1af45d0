#!/usr/bin/env python3
# How the PyTorch reference values of tests/nn/recurrent_test.cpp were computed (python3-torch
# 1.13 from Debian): nn.RNN / nn.LSTM / nn.GRU on weights in Keras's layout mapped to PyTorch's.
# Not run by the tests; rerun it by hand to regenerate the values.
import torch
torch.set_default_dtype(torch.float64)
N, T, F, U = 2, 3, 2, 2
def fill(rows, cols, a, b, c):
    return torch.tensor([[0.1 * (((i * a + j * b + c) % 11) - 5) for j in range(cols)] for i in range(rows)])
x = torch.tensor([[[0.5, -1.0], [0.25, 0.75], [-0.5, 0.1]],
                  [[1.0, 0.2], [-0.3, -0.6], [0.9, -0.4]]])
def show(name, t):
    print(name, ", ".join("%.8f" % v for v in t.flatten().tolist()))

# SimpleRNN: kernel [F, U], recurrent [U, U], bias [U]
k = fill(F, U, 7, 3, 1); r = fill(U, U, 5, 2, 4); b = torch.tensor([0.1, -0.2])
m = torch.nn.RNN(F, U, batch_first=True)
with torch.no_grad():
    m.weight_ih_l0.copy_(k.T); m.weight_hh_l0.copy_(r.T); m.bias_ih_l0.copy_(b); m.bias_hh_l0.zero_()
    out, h = m(x)
show("simple_rnn_seq", out)

# LSTM: gates (i, f, c, o) in both
k = fill(F, 4 * U, 7, 3, 1); r = fill(U, 4 * U, 5, 2, 4); b = torch.tensor([0.1 * (i % 5) - 0.2 for i in range(4 * U)])
m = torch.nn.LSTM(F, U, batch_first=True)
with torch.no_grad():
    m.weight_ih_l0.copy_(k.T); m.weight_hh_l0.copy_(r.T); m.bias_ih_l0.copy_(b); m.bias_hh_l0.zero_()
    out, (h, c) = m(x)
show("lstm_seq", out)

# GRU reset_after: Keras gates (z, r, h), PyTorch (r, z, n); bias [2, 3U]
k = fill(F, 3 * U, 7, 3, 1); r = fill(U, 3 * U, 5, 2, 4)
bi = torch.tensor([0.1 * (i % 4) - 0.1 for i in range(3 * U)]); bh = torch.tensor([0.05 * (i % 3) for i in range(3 * U)])
def perm(t):  # columns (z, r, h) -> (r, z, h)
    return torch.cat([t[..., U:2 * U], t[..., 0:U], t[..., 2 * U:]], dim=-1)
m = torch.nn.GRU(F, U, batch_first=True)
with torch.no_grad():
    m.weight_ih_l0.copy_(perm(k).T); m.weight_hh_l0.copy_(perm(r).T)
    m.bias_ih_l0.copy_(perm(bi)); m.bias_hh_l0.copy_(perm(bh))
    out, h = m(x)
show("gru_seq", out)

# LSTM go_backwards, last state: the LSTM on the time-reversed sequence.
k = fill(F, 4 * U, 7, 3, 1); r = fill(U, 4 * U, 5, 2, 4); b = torch.tensor([0.1 * (i % 5) - 0.2 for i in range(4 * U)])
m = torch.nn.LSTM(F, U, batch_first=True)
with torch.no_grad():
    m.weight_ih_l0.copy_(k.T); m.weight_hh_l0.copy_(r.T); m.bias_ih_l0.copy_(b); m.bias_hh_l0.zero_()
    out, (h, c) = m(torch.flip(x, [1]))
show("lstm_backwards_last", out[:, -1])

# GRU reset_after=False (Keras's original form), written out: one bias [3U].
k = fill(F, 3 * U, 7, 3, 1); r = fill(U, 3 * U, 5, 2, 4)
b = torch.tensor([0.1 * (i % 4) - 0.1 for i in range(3 * U)])
h = torch.zeros(N, U)
outs = []
for t in range(T):
    xw = x[:, t] @ k + b
    z = torch.sigmoid(xw[:, :U] + h @ r[:, :U])
    rr = torch.sigmoid(xw[:, U:2 * U] + h @ r[:, U:2 * U])
    hh = torch.tanh(xw[:, 2 * U:] + (rr * h) @ r[:, 2 * U:])
    h = z * h + (1 - z) * hh
    outs.append(h)
show("gru_v1_seq", torch.stack(outs, 1))
