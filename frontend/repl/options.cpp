#include "frontend/repl/options.h"

#include <charconv>

#include "frontend/script/stages.h"

namespace soma::tool {

namespace {

std::pair<std::string, std::string> name_eq_file(const std::string& flag, const std::string& v) {
  size_t eq = v.find('=');
  if (flag == "--fetch" && eq == std::string::npos && !v.empty()) return {v, v + ".npy"};
  if (eq == std::string::npos || eq == 0)
    throw UsageError(flag + " expects NAME=FILE.npy, got '" + v + "'");
  std::string file = v.substr(eq + 1);
  if (file.empty() && flag == "--fetch") file = v.substr(0, eq) + ".npy";
  if (file.empty()) throw UsageError(flag + " " + v + ": the file name is missing");
  return {v.substr(0, eq), file};
}

int positive_int(const std::string& flag, const std::string& v, int min) {
  int n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || n < min)
    throw UsageError(flag + " expects an integer >= " + std::to_string(min) + ", got '" + v + "'");
  return n;
}

}  // namespace

Options parse_options(const std::vector<std::string>& args) {
  Options o;
  std::vector<std::string> positional;
  bool bench_flags = false, run_flags = false;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool has_value = false;
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
      has_value = true;
    }
    auto need = [&]() -> std::string {
      if (has_value) return value;
      if (i + 1 >= args.size()) throw UsageError(a + " needs a value");
      return args[++i];
    };
    if (a == "-h" || a == "--help") {
      o.mode = Mode::Help;
      return o;
    }
    if (a == "--help-env") {
      o.mode = Mode::HelpEnv;
      return o;
    }
    if (a == "-V" || a == "--version") {
      o.mode = Mode::Version;
      return o;
    }
    if (a == "--backend" || a == "-b") {
      o.backend = need();
    } else if (a == "--backends") {
      std::string v = need();
      size_t b = 0;
      while (b <= v.size()) {
        size_t e = v.find(',', b);
        if (e == std::string::npos) e = v.size();
        if (e > b) o.backends.push_back(v.substr(b, e - b));
        b = e + 1;
      }
      if (o.backends.empty()) throw UsageError("--backends needs a list such as interp,llvm");
      bench_flags = true;
    } else if (a == "--feed") {
      o.feeds.push_back(name_eq_file("--feed", need()));
    } else if (a == "--fetch") {
      o.fetches.push_back(name_eq_file("--fetch", need()));
      run_flags = true;
    } else if (a == "--runs") {
      o.runs = positive_int("--runs", need(), 1);
      bench_flags = true;
    } else if (a == "--warmup") {
      o.warmup = positive_int("--warmup", need(), 0);
      bench_flags = true;
    } else if (a == "--json") {
      if (has_value) throw UsageError("--json takes no value");
      o.json = true;
      bench_flags = true;
    } else if (a.size() > 1 && a[0] == '-') {
      throw UsageError("unknown option '" + args[i] + "'");
    } else {
      positional.push_back(args[i]);
    }
  }
  if (!positional.empty()) {
    const std::string& cmd = positional[0];
    auto arity = [&](size_t lo, size_t hi, const char* usage) {
      if (positional.size() - 1 < lo || positional.size() - 1 > hi)
        throw UsageError(std::string("usage: ") + usage);
    };
    if (cmd == "run") {
      arity(1, 1,
            "soma run FILE.soma [--backend NAME] [--feed NAME=FILE.npy]... "
            "[--fetch NAME=FILE.npy]...");
      o.mode = Mode::Run;
      o.file = positional[1];
    } else if (cmd == "bench") {
      arity(1, 2, "soma bench FILE.soma [NAME] [--backends a,b] [--runs N] [--feed ...] [--json]");
      o.mode = Mode::Bench;
      o.file = positional[1];
      if (positional.size() > 2) o.name = positional[2];
    } else if (cmd == "emit") {
      arity(2, 3, "soma emit STAGE FILE.soma [NAME] (or soma emit STAGE FILE.kir)");
      o.mode = Mode::Emit;
      o.stage = positional[1];
      bool known = false;
      std::string names;
      for (const auto& st : script::emit_stages()) {
        known = known || st.name == o.stage;
        names += (names.empty() ? "" : ", ") + st.name;
      }
      if (!known) throw UsageError("unknown stage '" + o.stage + "'; the stages are: " + names);
      o.file = positional[2];
      if (positional.size() > 3) o.name = positional[3];
    } else if (cmd == "cache") {
      arity(0, 1, "soma cache [info|clear]");
      o.mode = Mode::Cache;
      o.name = positional.size() > 1 ? positional[1] : "info";
      if (o.name != "info" && o.name != "clear")
        throw UsageError("unknown cache action '" + o.name + "' (soma cache [info|clear])");
    } else if (cmd == "help") {
      o.mode = Mode::Help;
      return o;
    } else if (cmd.size() > 5 && cmd.compare(cmd.size() - 5, 5, ".soma") == 0) {
      arity(0, 0, "soma FILE.soma (or soma run FILE.soma ...)");
      o.mode = Mode::Run;  // `soma file.soma` is `soma run file.soma`
      o.file = cmd;
    } else {
      throw UsageError("unknown command '" + cmd +
                       "' (commands: run, bench, emit, cache; see --help)");
    }
  }
  if (bench_flags && o.mode != Mode::Bench)
    throw UsageError("--backends, --runs, --warmup and --json are options of `soma bench`");
  if (run_flags && o.mode != Mode::Run) throw UsageError("--fetch is an option of `soma run`");
  if (!o.backends.empty() && !o.backend.empty())
    throw UsageError("give either --backend or --backends");
  return o;
}

std::string usage_text() {
  std::string stages;
  for (const auto& st : script::emit_stages()) stages += (stages.empty() ? "" : ", ") + st.name;
  return "soma: a deep-learning compiler and its script language\n"
         "\n"
         "usage:\n"
         "  soma                                  the REPL (reads stdin when it is not a "
         "terminal)\n"
         "  soma run FILE.soma [--backend NAME] [--feed NAME=IN.npy]... [--fetch NAME=OUT.npy]...\n"
         "  soma bench FILE.soma [NAME] [--backends a,b] [--runs N] [--warmup N] [--feed ...] "
         "[--json]\n"
         "  soma emit STAGE FILE.soma [NAME]      STAGE: " +
         stages +
         "\n"
         "  soma emit STAGE FILE.kir              a kernel program (a SOMA_DUMP_DIR dump): "
         "kernel, llvm,\n"
         "                                        asm, glsl, spirv\n"
         "  soma cache [info|clear]               what the on-disk compile caches hold; empty "
         "them\n"
         "  soma --version | --help | --help-env  (--help-env: the environment variables)\n"
         "\n"
         "options:\n"
         "  --backend NAME      the backend tensors are computed on (default: $SOMA_BACKEND, "
         "else the\n"
         "                      built-in default); also for the REPL\n"
         "  --feed NAME=FILE    binds input(\"NAME\", ...) to a numpy .npy file\n"
         "  --fetch NAME=FILE   after the run, evaluates variable NAME and writes it as .npy\n"
         "  --backends a,b      bench on these backends (default: all)\n"
         "  --runs N            timed runs per backend (default 10), after --warmup N (default 2)\n"
         "  --json              bench: one JSON object per backend per line, with keys name,\n"
         "                      backend, compile_ms, run_ms_median, run_ms_min, runs\n"
         "\n"
         "exit status:\n"
         "  0  success\n"
         "  1  an error in the script or its data (FILE:LINE:COL: error: ... on stderr); with\n"
         "     stdin not a terminal, any statement that failed\n"
         "  2  a usage error (bad command or flags)\n"
         "\n"
         "In the REPL, :help lists the commands and built-ins. Docs: docs/script.md.\n";
}

}  // namespace soma::tool
