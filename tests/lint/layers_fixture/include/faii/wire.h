/* A ground header that includes a private header of a folder: forbidden. */
#include "dataplane.h"
