// Planted cheat (using the answers): includes the solution's source. Caught at build time: a stage is
// compiled with stages/common alone on its include path, from its own folder, so this does not compile
// (grader/tests/CMakeLists.txt checks it); a student release has no solutions/ at all.
#include "solutions/04_online_softmax/kernel.cu"
