// soma::Error and its subclasses: what a user's mistake throws. SOMA_CHECK: what an internal
// invariant uses (it aborts; a user must never see one).
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace soma {

// Base of every error a user can cause. The message says what was wrong, where, and how to fix it.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

class ShapeError : public Error {  // shapes that do not fit an op's rule
 public:
  using Error::Error;
};
class TypeError : public Error {  // dtypes that an op does not accept
 public:
  using Error::Error;
};
class ValueError : public Error {  // a bad argument value (axis out of range, negative size, ...)
 public:
  using Error::Error;
};
class NameError : public Error {  // an unknown name (op, input, parameter, backend, ...)
 public:
  using Error::Error;
};
class IOError : public Error {  // a file that cannot be read, written, or is malformed
 public:
  using Error::Error;
};
class BackendError : public Error {  // a backend that is unavailable or failed
 public:
  using Error::Error;
};
class ResourceError : public Error {  // out of memory, or another limit of the machine reached
 public:
  using Error::Error;
};

// A parse error in some text (the IR's text form, a script): carries a 1-based line and column.
class ParseError : public Error {
 public:
  ParseError(const std::string& msg, int line, int col)
      : Error(std::to_string(line) + ":" + std::to_string(col) + ": " + msg),
        line_(line),
        col_(col),
        bare_(msg) {}
  int line() const { return line_; }
  int col() const { return col_; }
  const std::string& bare_message() const { return bare_; }

 private:
  int line_, col_;
  std::string bare_;
};

// Builds a message with operator<< and throws it as E: `throw_error<ShapeError>() << "..."` is not
// possible in C++ (a throw needs an expression), so use: SOMA_THROW(ShapeError, "a " << x);
#define SOMA_THROW(ErrorClass, stream_expr) \
  do {                                      \
    std::ostringstream soma_throw_os_;      \
    soma_throw_os_ << stream_expr;          \
    throw ErrorClass(soma_throw_os_.str()); \
  } while (0)

namespace detail {
class CheckFailure {
 public:
  CheckFailure(const char* file, int line, const char* cond);
  [[noreturn]] ~CheckFailure();
  std::ostream& stream() { return os_; }

 private:
  std::ostringstream os_;
};
}  // namespace detail

}  // namespace soma

// Internal invariant: on failure prints the condition, location and streamed message, then aborts.
#define SOMA_CHECK(cond) \
  if (cond) {            \
  } else                 \
    ::soma::detail::CheckFailure(__FILE__, __LINE__, #cond).stream()
