/* pb_icount: a QEMU TCG plugin that counts executed guest instructions exactly.
 *
 * Every translated instruction gets an inline "count += 1"; instructions inside the
 * skip range (the SysTick interrupt handler, which fires at times that depend on the
 * host) are not counted, so counts do not depend on when the host sent its request.
 * Each time a store inside [mark_lo, mark_hi) (the firmware's pb_mark()) writes the
 * marker word, the running count is appended to the output file as one decimal line.
 *
 * Arguments: out=PATH marker=ADDR mark_lo=ADDR mark_hi=ADDR [skip_lo=ADDR skip_hi=ADDR]
 * Built by protobrain against qemu-plugin.h from the QEMU source (API version 1).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qemu-plugin.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;

static uint64_t executed; /* single-core boards: one counter */
static uint64_t marker, mark_lo, mark_hi, skip_lo, skip_hi;
static FILE *out;

static void on_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (qemu_plugin_mem_is_store(info) && vaddr == marker) {
        fprintf(out, "%" PRIu64 "\n", executed);
        fflush(out);
    }
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t i, n = qemu_plugin_tb_n_insns(tb);
    (void)id;
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc >= skip_lo && pc < skip_hi) {
            continue;
        }
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
        if (pc >= mark_lo && pc < mark_hi) {
            qemu_plugin_register_vcpu_mem_cb(insn, on_store, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_W, NULL);
        }
    }
}

static void on_exit(qemu_plugin_id_t id, void *udata)
{
    (void)id;
    (void)udata;
    if (out) {
        fclose(out);
        out = NULL;
    }
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv)
{
    const char *path = NULL;
    int i;
    (void)info;
    for (i = 0; i < argc; ++i) {
        char *eq = strchr(argv[i], '=');
        const char *value = eq ? eq + 1 : "";
        size_t key = eq ? (size_t)(eq - argv[i]) : strlen(argv[i]);
        if (key == 3 && strncmp(argv[i], "out", 3) == 0) {
            path = value;
        } else if (key == 6 && strncmp(argv[i], "marker", 6) == 0) {
            marker = strtoull(value, NULL, 0);
        } else if (key == 7 && strncmp(argv[i], "mark_lo", 7) == 0) {
            mark_lo = strtoull(value, NULL, 0);
        } else if (key == 7 && strncmp(argv[i], "mark_hi", 7) == 0) {
            mark_hi = strtoull(value, NULL, 0);
        } else if (key == 7 && strncmp(argv[i], "skip_lo", 7) == 0) {
            skip_lo = strtoull(value, NULL, 0);
        } else if (key == 7 && strncmp(argv[i], "skip_hi", 7) == 0) {
            skip_hi = strtoull(value, NULL, 0);
        } else {
            fprintf(stderr, "pb_icount: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL || mark_hi <= mark_lo) {
        fprintf(stderr, "pb_icount: needs out=PATH, marker=ADDR, mark_lo=ADDR and mark_hi=ADDR\n");
        return -1;
    }
    out = fopen(path, "w");
    if (out == NULL) {
        fprintf(stderr, "pb_icount: cannot write %s\n", path);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_exit, NULL);
    return 0;
}
