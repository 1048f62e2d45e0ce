/* CONCATENATION: block copies, no arithmetic (TFLite Micro does not requantize). */
#include <string.h>

#include "pb_concat.h"

void pb_concat(const pb_concat_params_t *p, const void *const *runtime, void *output)
{
    const uint8_t *src[PB_CONCAT_MAX_INPUTS];
    uint8_t *out = (uint8_t *)output;
    int32_t i, o, next = 0;

    for (i = 0; i < p->num_inputs; ++i) {
        if (p->const_offset[i] < 0) {
            src[i] = (const uint8_t *)runtime[next++];
        } else {
            src[i] = (const uint8_t *)p->const_data + p->const_offset[i];
        }
    }
    for (o = 0; o < p->outer; ++o) {
        for (i = 0; i < p->num_inputs; ++i) {
            const size_t n = (size_t)p->copy_bytes[i];
            memcpy(out, src[i], n);
            src[i] += n;
            out += n;
        }
    }
}
