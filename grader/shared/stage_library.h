// stage_library.h: load a stage (student or solution) from its shared library.
//
// Every stage is built as <stages dir>/<variant>/<stage>.so (cmake/SwaStage.cmake) and exports
// swa_stage_api() (stages/common/problem.h, section 6). Loading it at run time is what lets one grader
// drive any stage, ship solutions compiled, and run each stage in a process of its own.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "problem.h"

namespace swa {

// Why a library could not be used: it could not be opened at all, or it is not a valid stage (no
// swa_stage_api, another ABI version, a null function or name, impossible tiles).
struct StageNotLoaded : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct StageInvalid : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class StageLibrary {
 public:
  // Loads the library; throws StageNotLoaded or StageInvalid naming the file and what went wrong. The
  // library stays loaded until the StageLibrary is destroyed: nothing is read from it after dlclose.
  explicit StageLibrary(const std::string& path);
  ~StageLibrary();
  StageLibrary(const StageLibrary&) = delete;
  StageLibrary& operator=(const StageLibrary&) = delete;

  const SwaStageApi& api() const { return *api_; }
  const SwaStageInfo& info() const { return api_->info; }
  std::string name() const { return api_->info.name; }
  bool supports(PatternKind kind) const { return (api_->info.patterns & pattern_bit(kind)) != 0; }
  bool supports_head_dim(int D) const { return (api_->info.head_dims & head_dim_bit(D)) != 0; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  void* handle_ = nullptr;
  const SwaStageApi* api_ = nullptr;
};

// The stage libraries of one variant ("student" or "solution") under a stages directory, by name
// ("01_naive", ...), sorted; empty if there are none.
std::vector<std::string> list_stages(const std::string& stages_dir, const std::string& variant);
std::string stage_path(const std::string& stages_dir, const std::string& variant, const std::string& stage);

}  // namespace swa
