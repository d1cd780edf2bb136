/* A ground header that includes a control header: forbidden. */
#include "faii/config.h"
