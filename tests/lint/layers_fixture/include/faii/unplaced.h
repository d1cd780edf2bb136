/* A header with no layer: forbidden. */
