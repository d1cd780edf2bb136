/* Fixture: settlement must not do I/O (check_layers.py, PURE_SYSTEM). */
#include <stdio.h>
#include <stdint.h>
