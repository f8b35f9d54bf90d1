// test_trust.cpp: the grader's trust boundary, with no GPU involved.
//
//   protocol   replies are parsed strictly: size, magic, kind, nonce, status, strings
//   forgery    a runner that sends unasked, doubled, mismatched, cut or descriptor-carrying messages is
//              caught; one that crashes, hangs or leaves a process behind is reported as such
//   sandbox    what a runner sees under bubblewrap: not the kit, not the output folder, no network, no
//              parent, an environment without secrets, limits on files and CPU; a library it loads from
//              outside its own shows in its maps
//   reports    written atomically; a run without a GPU never replaces a graded report
//
// The runner here is fake_runner (it needs no GPU); `swa grade` runs the real one on the GPU
// (test_trust_gpu.cpp).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "grade.h"
#include "protocol.h"
#include "remote_stage.h"
#include "report.h"
#include "runner_process.h"
#include "sandbox.h"

namespace swa {
namespace {

using namespace protocol;
using nlohmann::json;
namespace fs = std::filesystem;

fs::path temp_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("swa_trust_" + name + "_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// ---------------------------------------------------------------------------------------------------
// Protocol
// ---------------------------------------------------------------------------------------------------

Reply good_reply(Kind kind, uint64_t nonce) {
  Request q = make_request(kind, nonce);
  Reply r = make_reply(q);
  put_text(r.message, "fine");
  return r;
}

std::string why_rejected(const Reply& r, size_t size, Kind kind, uint64_t nonce) {
  std::string why;
  return parse_reply(&r, size, kind, nonce, &why) ? "(accepted)" : why;
}

TEST(Protocol, AcceptsOnlyTheReplyThatWasAskedFor) {
  const Reply r = good_reply(Kind::kRun, 42);
  EXPECT_EQ(why_rejected(r, sizeof(r), Kind::kRun, 42), "(accepted)");
  EXPECT_NE(why_rejected(r, sizeof(r), Kind::kRun, 43).find("wrong nonce"), std::string::npos);
  EXPECT_NE(why_rejected(r, sizeof(r), Kind::kLoad, 42).find("'run' reply where a 'load' reply was due"),
            std::string::npos);
  EXPECT_NE(why_rejected(r, sizeof(r) - 1, Kind::kRun, 42).find("bytes"), std::string::npos);
  EXPECT_NE(why_rejected(r, sizeof(r) + 1, Kind::kRun, 42).find("bytes"), std::string::npos);
  Reply bad = r;
  bad.magic = 0;
  EXPECT_NE(why_rejected(bad, sizeof(bad), Kind::kRun, 42).find("magic"), std::string::npos);
  bad = r;
  bad.status = 55;
  EXPECT_NE(why_rejected(bad, sizeof(bad), Kind::kRun, 42).find("unknown status"), std::string::npos);
  bad = r;
  std::memset(bad.message, 'x', sizeof(bad.message));
  EXPECT_NE(why_rejected(bad, sizeof(bad), Kind::kRun, 42).find("unterminated"), std::string::npos);
  bad = r;
  bad.kind = static_cast<Kind>(99);
  EXPECT_NE(why_rejected(bad, sizeof(bad), Kind::kRun, 42).find("'unknown' reply"), std::string::npos);
}

TEST(Protocol, PacketsKeepTheirBoundariesAndDescriptors) {
  int s[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, s), 0);
  const Reply r = good_reply(Kind::kAttach, 7);
  ASSERT_EQ(send_packet(s[0], &r, sizeof(r), 0), "");  // with stdin attached
  ASSERT_EQ(send_packet(s[0], &r, 10), "");
  Reply got;
  auto p = receive_packet(s[1], &got, sizeof(got), 1000);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size, sizeof(r));
  EXPECT_GE(p->fd, 0) << "the descriptor came with the message";
  if (p->fd >= 0) close(p->fd);
  p = receive_packet(s[1], &got, sizeof(got), 1000);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->size, 10u) << "a short message stays short";
  EXPECT_FALSE(receive_packet(s[1], &got, sizeof(got), 10)) << "nothing more: a timeout";
  // A message larger than the buffer is reported as such, not cut silently.
  std::vector<char> big(sizeof(Reply) * 2, 'x');
  ASSERT_EQ(send_packet(s[0], big.data(), big.size()), "");
  p = receive_packet(s[1], &got, sizeof(got), 1000);
  ASSERT_TRUE(p);
  EXPECT_GT(p->size, sizeof(got));
  close(s[0]);
  p = receive_packet(s[1], &got, sizeof(got), 1000);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->closed);
  close(s[1]);
}

TEST(Protocol, ProblemsTravelWithoutPointers) {
  Problem p;
  p.B = 2, p.H = 3, p.N = 100, p.D = 32, p.scale = 0.5f;
  p.pattern.kind = PatternKind::kGlobalLocal;
  p.pattern.left = 4, p.pattern.right = 5, p.pattern.num_global = 2;
  ProblemSpec spec = to_spec(p);
  EXPECT_EQ(spec.global_positions, kNoOffset);
  spec.global_positions = 256;
  char base[1024] = {};
  const Problem back = to_problem(spec, base);
  EXPECT_EQ(back.N, 100);
  EXPECT_EQ(back.pattern.num_global, 2);
  EXPECT_EQ(reinterpret_cast<const char*>(back.pattern.global_positions), base + 256);
  EXPECT_EQ(back.pattern.adaptive_left, nullptr);
}

// ---------------------------------------------------------------------------------------------------
// Forgery and faults: a runner that misbehaves
// ---------------------------------------------------------------------------------------------------

struct FakeRun {
  std::unique_ptr<RunnerProcess> runner;
  fs::path dir;
};

// Starts fake_runner in `mode`; its "library" file holds `probe` (a path it reports on or loads).
FakeRun start(const std::string& mode, bool sandbox, const std::string& probe = "/nonexistent") {
  FakeRun f;
  f.dir = temp_dir("fake_" + mode + (sandbox ? "_sb" : ""));
  const fs::path library = f.dir / (mode + ".so");
  std::ofstream(library) << probe << "\n";
  RunnerLaunch launch;
  launch.runner = SWA_FAKE_RUNNER;
  launch.library = library.string();
  launch.log = (f.dir / "runner.log").string();
  launch.sandbox = sandbox;
  launch.cpu_seconds = 100;
  f.runner = std::make_unique<RunnerProcess>(launch);
  return f;
}

Request load_request(const RunnerProcess& r) {
  Request q = make_request(Kind::kLoad, 0);
  put_text(q.library, r.library_inside());
  return q;
}

RunnerFault::Kind fault_of(const std::string& mode, bool sandbox, std::string* what = nullptr) {
  FakeRun f = start(mode, sandbox);
  try {
    f.runner->call(load_request(*f.runner), -1, 3);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // time for a late, unasked message
    f.runner->call(make_request(Kind::kDetach, 0), -1, 3);
    f.runner->stop();
  } catch (const RunnerFault& e) {
    if (what) *what = e.what();
    return e.kind;
  }
  return static_cast<RunnerFault::Kind>(-1);
}

bool bwrap_works() {
  static const bool works = !find_bwrap().empty() &&
                            std::system((find_bwrap() + " --ro-bind / / --unshare-all true 2>/dev/null").c_str()) == 0;
  return works;
}

TEST(Forgery, AnHonestRunnerAnswersAndEnds) {
  FakeRun f = start("honest", false);
  const Reply r = f.runner->call(load_request(*f.runner), -1, 5);
  EXPECT_STREQ(r.name, "99_fake");
  EXPECT_EQ(f.runner->stop(), 0);
}

TEST(Forgery, EveryForgedMessageIsAProtocolViolation) {
  for (const char* mode : {"unasked", "twice", "nonce", "short", "fd", "status"}) {
    std::string what;
    EXPECT_EQ(fault_of(mode, false, &what), RunnerFault::kProtocol) << mode << ": " << what;
  }
  std::string what;
  fault_of("unasked", false, &what);
  EXPECT_NE(what.find("nobody asked for"), std::string::npos) << what;
}

TEST(Forgery, CrashesAndHangsAreNamed) {
  std::string what;
  EXPECT_EQ(fault_of("abort", false, &what), RunnerFault::kCrashed);
  EXPECT_NE(what.find("signal 6"), std::string::npos) << what;
  const auto start_time = std::chrono::steady_clock::now();
  EXPECT_EQ(fault_of("hang", false, &what), RunnerFault::kTimedOut);
  EXPECT_LT(std::chrono::steady_clock::now() - start_time, std::chrono::seconds(10)) << "stopped at its time limit";
  if (bwrap_works()) {
    EXPECT_EQ(fault_of("abort", true, &what), RunnerFault::kCrashed);
    EXPECT_NE(what.find("signal 6"), std::string::npos) << "through bwrap too: " << what;
  }
}

TEST(Forgery, ALeftoverProcessIsCountedAndEnded) {
  for (bool sandbox : {false, true}) {
    if (sandbox && !bwrap_works()) continue;
    FakeRun f = start("linger", sandbox);
    f.runner->call(load_request(*f.runner), -1, 5);
    const std::vector<pid_t> all = f.runner->processes();
    ASSERT_GE(all.size(), 2u) << "the runner and the process it started";
    EXPECT_GE(f.runner->stop(), 1) << (sandbox ? "sandboxed" : "plain");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (pid_t p : all) {
      waitpid(p, nullptr, WNOHANG);  // orphans may have come to us (a subreaper): reap them
      std::ifstream stat("/proc/" + std::to_string(p) + "/stat");
      std::string pid_text, name, state;
      stat >> pid_text >> name >> state;
      EXPECT_TRUE(!stat || state == "Z") << "process " << p << " still alive (" << state << ")";
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// The sandbox
// ---------------------------------------------------------------------------------------------------

std::map<std::string, std::string> survey_of(const Reply& r) {
  std::map<std::string, std::string> out;
  std::stringstream in(r.message);
  for (std::string item; std::getline(in, item, ';');)
    if (const size_t eq = item.find('='); eq != std::string::npos) out[item.substr(0, eq)] = item.substr(eq + 1);
  return out;
}

TEST(Sandbox, TheRunnerSeesNoKitNoOutputNoNetworkNoParent) {
  if (!bwrap_works()) GTEST_SKIP() << "bubblewrap is not installed or cannot make namespaces here";
  setenv("SWA_SECRET_FOR_TEST", "42", 1);
  fs::remove("/tmp/swa-fake-runner-was-here");  // left by the runs without the sandbox
  const fs::path secret_dir = temp_dir("outside");  // stands for the output folder or another submission
  for (const std::string& probe :
       {secret_dir.string(), std::string(SWA_SOURCE_DIR) + "/solutions", std::string(SWA_SOURCE_DIR)}) {
    FakeRun f = start("honest", true, probe);
    const auto s = survey_of(f.runner->call(load_request(*f.runner), -1, 5));
    EXPECT_EQ(s.at("probe_dir"), "hidden") << probe;
    EXPECT_EQ(s.at("network"), "no");
    EXPECT_EQ(s.at("ppid"), "1") << "its parent is the sandbox's init: the judge is out of its reach";
    EXPECT_EQ(s.at("env").find("SWA_SECRET_FOR_TEST"), std::string::npos) << s.at("env");
    EXPECT_EQ(s.at("nofile"), "256");
    EXPECT_EQ(s.at("cpu"), "100");
    EXPECT_EQ(s.at("tmp_write"), "yes") << "a private /tmp";
    EXPECT_FALSE(fs::exists("/tmp/swa-fake-runner-was-here")) << "... that is not the host's";
    f.runner->stop();
  }
  unsetenv("SWA_SECRET_FOR_TEST");
}

TEST(Sandbox, WithoutItTheRunnerStillGetsACleanEnvironmentAndLimits) {
  setenv("SWA_SECRET_FOR_TEST", "42", 1);
  FakeRun f = start("honest", false, temp_dir("plain").string());
  const auto s = survey_of(f.runner->call(load_request(*f.runner), -1, 5));
  EXPECT_EQ(s.at("env").find("SWA_SECRET_FOR_TEST"), std::string::npos) << s.at("env");
  EXPECT_EQ(s.at("nofile"), "256");
  f.runner->stop();
  unsetenv("SWA_SECRET_FOR_TEST");
}

TEST(Sandbox, ALibraryLoadedFromElsewhereShowsInTheMaps) {
  // Another library the runner loads (here the C++ runtime's copy outside /usr, standing for a solution's
  // stage library) is named by foreign_code(); the runner's own and the system's are not.
  const fs::path dir = temp_dir("foreign");
  const fs::path foreign = dir / "04_online_softmax.so";
  fs::copy_file("/usr/lib/x86_64-linux-gnu/libz.so.1", foreign, fs::copy_options::overwrite_existing);
  FakeRun f = start("dlopen", false, foreign.string());
  for (const std::string& x : f.runner->foreign_code()) ADD_FAILURE() << "foreign before loading anything: " << x;
  const Reply r = f.runner->call(load_request(*f.runner), -1, 5);
  ASSERT_STREQ(r.message, "loaded");
  const std::vector<std::string> found = f.runner->foreign_code();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0], foreign.string());
  f.runner->stop();
  if (bwrap_works()) {  // in the sandbox the file is not even there to load
    FakeRun g = start("dlopen", true, foreign.string());
    const Reply s = g.runner->call(load_request(*g.runner), -1, 5);
    EXPECT_STRNE(s.message, "loaded");
    g.runner->stop();
  }
}

TEST(Sandbox, BwrapArgumentsHideTheKit) {
  const std::vector<std::string> a = bwrap_arguments("/tmp/private", {"/opt/cuda/lib64"}, 4, {"/sandbox/swa-runner"});
  std::string line;
  for (const std::string& x : a) line += x + " ";
  for (const char* must :
       {"--unshare-all", "--die-with-parent", "--new-session", "--cap-drop ALL", "--ro-bind /tmp/private /sandbox",
        "--ro-bind-try /opt/cuda/lib64 /opt/cuda/lib64", "--tmpfs /tmp", "--proc /proc", "-- /sandbox/swa-runner"})
    EXPECT_NE(line.find(must), std::string::npos) << must << " in: " << line;
  EXPECT_EQ(line.find(SWA_SOURCE_DIR), std::string::npos) << "the kit is not mounted: " << line;
  for (const std::string& d : library_dirs({SWA_SOURCE_DIR})) EXPECT_NE(d.rfind(SWA_SOURCE_DIR, 0), 0u) << d;
  for (const std::string& e : runner_environment())
    EXPECT_TRUE(e.rfind("PATH=", 0) == 0 || e.rfind("HOME=", 0) == 0 || e.rfind("LD_LIBRARY_PATH=", 0) == 0 ||
                e.rfind("CUDA_", 0) == 0 || e.rfind("SWA_SHARED_MEMORY_LIMIT=", 0) == 0)
        << e;
}

// ---------------------------------------------------------------------------------------------------
// The real runner: loading needs no GPU
// ---------------------------------------------------------------------------------------------------

std::string load_status(const std::string& library, bool sandbox, std::string* message) {
  RunnerLaunch launch;
  launch.runner = SWA_RUNNER;
  launch.library = library;
  launch.log = (temp_dir("real_runner") / "runner.log").string();
  launch.sandbox = sandbox;
  RemoteStage stage(launch);
  try {
    const Declared& d = stage.load("00_empty");
    *message = d.name;
    stage.process().stop();
    return "loaded";
  } catch (const StageUnusable& e) {
    *message = e.what();
    return e.status;
  }
}

TEST(Runner, SaysWhyALibraryIsNotAStage) {
  for (bool sandbox : {false, true}) {
    if (sandbox && !bwrap_works()) continue;
    std::string message;
    EXPECT_EQ(load_status(SWA_EMPTY_STAGE, sandbox, &message), "loaded");
    EXPECT_EQ(message, "00_empty");
    EXPECT_EQ(load_status(SWA_BAD_STAGES "/wrong_abi.so", sandbox, &message), "invalid library");
    EXPECT_NE(message.find("stage ABI 1, expected 2"), std::string::npos) << message;
    EXPECT_EQ(load_status(SWA_BAD_STAGES "/null_api.so", sandbox, &message), "invalid library");
    EXPECT_NE(message.find("null stage interface"), std::string::npos) << message;
    const fs::path not_a_library = temp_dir("not_a_library") / "03_x.so";
    std::ofstream(not_a_library) << "not ELF";
    EXPECT_EQ(load_status(not_a_library.string(), sandbox, &message), "missing");
    EXPECT_NE(message.find("cannot load stage library"), std::string::npos) << message;
  }
}

// ---------------------------------------------------------------------------------------------------
// Reports
// ---------------------------------------------------------------------------------------------------

TEST(Reports, AReaderNeverSeesHalfAFile) {
  const fs::path dir = temp_dir("atomic");
  const std::string path = (dir / "grade.json").string();
  write_file_atomically(path, json{{"n", 0}}.dump());
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, reads{0};
  std::thread reader([&] {
    while (!done) {
      std::ifstream in(path);
      std::stringstream text;
      text << in.rdbuf();
      if (json::parse(text.str(), nullptr, false).is_discarded()) ++bad;
      ++reads;
    }
  });
  const std::string filler(1 << 20, 'x');  // a large file takes several writes
  for (int k = 1; k <= 60; ++k) write_file_atomically(path, json{{"n", k}, {"filler", filler}}.dump());
  done = true;
  reader.join();
  EXPECT_EQ(bad, 0) << "of " << reads << " reads";
  EXPECT_EQ(json::parse(std::ifstream(path))["n"], 60);
  for (const auto& e : fs::directory_iterator(dir)) EXPECT_EQ(e.path().filename(), "grade.json") << "no temporary left";
}

TEST(Reports, ARunWithoutAGpuKeepsAGradedReport) {
  const fs::path dir = temp_dir("keep");
  const json graded = {{"status", "graded"}, {"score", 500}};
  std::ofstream(dir / "grade.json") << graded.dump();
  fs::create_directories(dir / "stages" / "student");  // a stage library's name is all a run without a GPU needs
  std::ofstream(dir / "stages" / "student" / "01_naive.so") << "";
  const std::string command = "CUDA_VISIBLE_DEVICES= " SWA_BINARY " grade --stages-dir " + (dir / "stages").string() +
                              " --out " + dir.string() + " > " + (dir / "out.txt").string() + " 2>&1";
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
  EXPECT_EQ(json::parse(std::ifstream(dir / "grade.json")), graded) << "the graded report is untouched";
  std::stringstream out;
  out << std::ifstream(dir / "out.txt").rdbuf();
  EXPECT_NE(out.str().find("were kept"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("exit status 3"), std::string::npos) << out.str();
}

TEST(Stages, NamedTwiceGradedOnceAndUnbuiltOnesComeFromTheirBuildLogs) {
  const std::vector<std::string> available = {"01_naive", "02_tiled_smem", "03_masked_windows"};
  EXPECT_EQ(resolve_stage_names({"03", "03_masked_windows", "01"}, available, {}, "student"),
            (std::vector<std::string>{"03_masked_windows", "01_naive"}));
  EXPECT_EQ(resolve_stage_names({}, available, {"04_online_softmax"}, "student").size(), 4u)
      << "a stage with a build log and no library is graded (as missing, with its log)";
  try {
    resolve_stage_names({"07"}, available, {}, "student");
    ADD_FAILURE() << "accepted an unknown stage";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("unknown stage '07'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace swa
