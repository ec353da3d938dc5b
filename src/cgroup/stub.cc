// Placeholder until the cgroup managers land.
#include "cgroup/manager.h"
