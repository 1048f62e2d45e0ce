/* Resource variables: copies into and out of the state area, and CALL_ONCE's initializer. */
#include <string.h>

#include "pb_variables.h"

void pb_variable_copy(const pb_variable_params_t *p, const void *input, void *output)
{
    memmove(output, input, (size_t)p->size);
}

void pb_variable_set(const pb_variable_params_t *p, void *output)
{
    memcpy(output, p->values, (size_t)p->size);
}

void pb_call_once(const pb_call_once_params_t *p, void *const outputs[], void *state)
{
    uint8_t *done = (uint8_t *)state;
    const uint8_t *values = p->values;
    int32_t k;
    if (*done) {
        return;
    }
    for (k = 0; k < p->count; ++k) {
        memcpy(outputs[k], values, (size_t)p->sizes[k]);
        values += p->sizes[k];
    }
    *done = 1u;
}
