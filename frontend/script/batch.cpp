#include "frontend/script/batch.h"

#include <ostream>

#include "frontend/script/interrupt.h"
#include "frontend/script/parser.h"

namespace soma::script {

void report_exception(std::ostream& err) {
  try {
    throw;
  } catch (const ScriptError& e) {
    err << e.report();
  } catch (const Interrupted&) {
    err << "interrupted\n";
  } catch (const Error& e) {
    err << "error: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    err << "error: out of memory\n";
  } catch (const std::exception& e) {
    err << "internal error: " << e.what() << "\n";
  }
  err.flush();
}

bool run_chunk(Session& session, const SourcePtr& source, std::ostream& err, bool& failed) {
  clear_interrupt();
  try {
    session.run(source);
  } catch (const QuitRequest& q) {
    session.out().flush();
    session.set_exit_status(q.status);
    return false;
  } catch (...) {
    session.out().flush();
    report_exception(err);
    failed = true;
  }
  session.out().flush();
  return true;
}

int run_batch(Session& session, const std::string& name, const std::string& text,
              std::ostream& err) {
  bool failed = false;
  for (const Chunk& c : split_statements(text)) {
    auto src = std::make_shared<const Source>(name, c.text, c.first_line);
    if (!run_chunk(session, src, err, failed)) break;
  }
  if (session.exit_status() != 0) return session.exit_status();
  return failed ? 1 : 0;
}

}  // namespace soma::script
