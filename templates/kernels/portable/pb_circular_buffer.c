/* CIRCULAR_BUFFER (see pb_circular_buffer.h). */
#include <string.h>

#include "pb_circular_buffer.h"

void pb_circular_buffer_s8(const pb_circular_buffer_params_t *p, const int8_t *input, int8_t *output, void *state)
{
    int8_t *frames = (int8_t *)state;
    const size_t frame = (size_t)p->depth;
    const size_t kept = (size_t)(p->slots - 1) * frame;
    memmove(frames, frames + frame, kept);
    memcpy(frames + kept, input, frame);
    memcpy(output, frames, kept + frame);
}
