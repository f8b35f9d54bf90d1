// A library whose swa_stage_api() returns null: the runner must say so (test_trust.cpp).
extern "C" __attribute__((visibility("default"))) const void* swa_stage_api(void) { return nullptr; }
