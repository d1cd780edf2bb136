/* A dataplane file that reaches into the ledger by path: forbidden. */
#include "../ledger/private.h"
