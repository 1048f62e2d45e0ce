#ifndef PB_VARIABLES_H
#define PB_VARIABLES_H

#include "pb_common.h"

/* Resource variables (READ_VARIABLE, ASSIGN_VARIABLE, CALL_ONCE): each variable lives in the
 * model's state area; reading and assigning it copy its bytes, as TFLite Micro does. */
typedef struct {
    int32_t size;          /* bytes */
    const uint8_t *values; /* the constant assigned (pb_variable_set), else NULL */
} pb_variable_params_t;

/* Copies p->size bytes; input and output may be the same memory. */
void pb_variable_copy(const pb_variable_params_t *p, const void *input, void *output);
/* Assigns a constant. */
void pb_variable_set(const pb_variable_params_t *p, void *output);

/* CALL_ONCE: on the first run after start-up (its flag is zero then, and reset leaves it
 * alone), writes each variable's initial bytes, one after another in p->values. */
typedef struct {
    int32_t count;
    const int32_t *sizes;  /* bytes of each variable */
    const uint8_t *values;
} pb_call_once_params_t;

void pb_call_once(const pb_call_once_params_t *p, void *const outputs[], void *state);

#endif
