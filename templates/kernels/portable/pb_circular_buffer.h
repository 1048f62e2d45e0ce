#ifndef PB_CIRCULAR_BUFFER_H_
#define PB_CIRCULAR_BUFFER_H_

#include "pb_common.h"

/* CIRCULAR_BUFFER: the state holds the last `slots` frames of `depth` int8 values, oldest
 * first. Each call drops the oldest, appends the input frame and copies all to the output. */
typedef struct {
    int32_t slots, depth;
} pb_circular_buffer_params_t;

void pb_circular_buffer_s8(const pb_circular_buffer_params_t *p, const int8_t *input, int8_t *output, void *state);

#endif
