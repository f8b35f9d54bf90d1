// stage_library.cpp: dlopen a stage and check its entry point.
#include "stage_library.h"

#include <dlfcn.h>

#include <algorithm>
#include <filesystem>
#include <stdexcept>

namespace swa {

StageLibrary::StageLibrary(const std::string& path) : path_(path) {
  if (!std::filesystem::exists(path)) throw StageNotLoaded("stage library " + path + " does not exist (is it built?)");
  // RTLD_LOCAL: every stage exports the same symbol; each library keeps its own.
  handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) throw StageNotLoaded("cannot load stage library " + path + ": " + dlerror());
  const auto entry = reinterpret_cast<SwaStageApiFn>(dlsym(handle_, SWA_STAGE_API_SYMBOL));
  if (entry == nullptr) {
    dlclose(handle_);
    throw StageInvalid(path + " does not export " SWA_STAGE_API_SYMBOL "(): was it built with SWA_EXPORT_STAGE?");
  }
  api_ = entry();
  // The version first: a library of another ABI lays out the rest differently.
  const int32_t version = api_ != nullptr ? api_->abi_version : -1;
  std::string why;
  if (api_ == nullptr)
    why = "returns a null stage interface from " SWA_STAGE_API_SYMBOL "()";
  else if (version != kSwaAbiVersion)
    why = "was built against another version of stages/common/problem.h (stage ABI " + std::to_string(version) +
          ", expected " + std::to_string(kSwaAbiVersion) + "): rebuild it";
  else if (api_ == nullptr || api_->forward == nullptr || api_->workspace_bytes == nullptr ||
           api_->info.name == nullptr)
    why = "exports an incomplete stage interface (a null function or name): was it built with SWA_EXPORT_STAGE?";
  else if (api_->info.tile_m < 1 || api_->info.tile_n < 1 || api_->info.tile_m > 1024 || api_->info.tile_n > 1024)
    why = "declares tiles of " + std::to_string(api_->info.tile_m) + " x " + std::to_string(api_->info.tile_n) +
          ": each side must be in [1, 1024]";
  else if ((api_->info.head_dims & kAllHeadDims) == 0)
    why = "declares no head dimension it supports (head_dims must name some of 16, 32, 64, 128)";
  if (!why.empty()) {
    // The message is complete before the library goes: nothing of it is read after dlclose.
    const std::string message = path + " " + why;
    api_ = nullptr;
    dlclose(handle_);
    handle_ = nullptr;
    throw StageInvalid(message);
  }
}

StageLibrary::~StageLibrary() {
  if (handle_ != nullptr) dlclose(handle_);
}

std::string stage_path(const std::string& stages_dir, const std::string& variant, const std::string& stage) {
  return (std::filesystem::path(stages_dir) / variant / (stage + ".so")).string();
}

std::vector<std::string> list_stages(const std::string& stages_dir, const std::string& variant) {
  std::vector<std::string> names;
  const std::filesystem::path dir = std::filesystem::path(stages_dir) / variant;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().extension() == ".so") names.push_back(entry.path().stem().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace swa
