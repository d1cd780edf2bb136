/* A dataplane file that reaches into the control plane: forbidden. */
#include "faii/registry.h"
