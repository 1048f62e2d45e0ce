/* pb_icount: a QEMU TCG plugin that counts executed guest instructions exactly.
 *
 * Every translated instruction gets an inline "count += 1"; instructions inside the
 * skip range (the SysTick interrupt handler, which fires at times that depend on the
 * host) are not counted, so counts do not depend on when the host sent its request.
 * Each time a store inside [mark_lo, mark_hi) (the firmware's pb_mark()) writes the
 * marker word, the running count is appended to the output file as one decimal line.
 *
 * Profile mode (optional, on top of the counting above): with profile=PATH every guest
 * PC also gets its own counter (one per PC, found in a hash table, so a retranslated
 * block adds to the same counter), incremented inline next to the global one. The
 * counters are snapshot at mark number `from` (counting from 0) and written, less that
 * snapshot, to PATH as "pc count" lines (hex PC, decimal count, non-zero only) at mark
 * number `to`; without `to`, at exit, as of the last mark. So the per-PC counts cover
 * exactly the instructions the counting mode reports between those two marks.
 *
 * Arguments: out=PATH marker=ADDR mark_lo=ADDR mark_hi=ADDR [skip_lo=ADDR skip_hi=ADDR]
 *            [profile=PATH [from=N] [to=N]]
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

/* --- profile mode -------------------------------------------------------------------- */

typedef struct pc_counter {
    uint64_t pc;
    uint64_t count; /* incremented inline: its address must never change */
    uint64_t first; /* count at mark `from` */
    uint64_t last;  /* count at the latest mark from `from` on (when `to` is not given) */
} pc_counter;

#define CHUNK 4096u
typedef struct chunk {
    pc_counter slots[CHUNK];
    struct chunk *next;
} chunk;

static const char *profile_path;
static uint64_t profile_from, profile_to;
static int profile_to_given, profile_written;
static uint64_t marks_seen;
static chunk *chunks;       /* newest first; counters are never moved or freed before exit */
static size_t chunk_used = CHUNK;
static pc_counter **table;  /* open addressing, keyed by pc */
static size_t table_size, table_used;

static size_t slot_of(uint64_t pc, size_t size)
{
    uint64_t h = pc * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (size - 1u);
}

static void table_grow(void)
{
    size_t i, size = table_size ? 2u * table_size : 8192u;
    pc_counter **grown = calloc(size, sizeof(*grown));
    if (grown == NULL) {
        fprintf(stderr, "pb_icount: out of memory\n");
        abort();
    }
    for (i = 0; i < table_size; ++i) {
        if (table[i] != NULL) {
            size_t k = slot_of(table[i]->pc, size);
            while (grown[k] != NULL) {
                k = (k + 1u) & (size - 1u);
            }
            grown[k] = table[i];
        }
    }
    free(table);
    table = grown;
    table_size = size;
}

static pc_counter *counter_for(uint64_t pc)
{
    size_t k;
    pc_counter *c;
    if (2u * (table_used + 1u) > table_size) {
        table_grow();
    }
    for (k = slot_of(pc, table_size); table[k] != NULL; k = (k + 1u) & (table_size - 1u)) {
        if (table[k]->pc == pc) {
            return table[k];
        }
    }
    if (chunk_used == CHUNK) {
        chunk *fresh = calloc(1, sizeof(*fresh));
        if (fresh == NULL) {
            fprintf(stderr, "pb_icount: out of memory\n");
            abort();
        }
        fresh->next = chunks;
        chunks = fresh;
        chunk_used = 0;
    }
    c = &chunks->slots[chunk_used++];
    c->pc = pc;
    table[k] = c;
    ++table_used;
    return c;
}

static void snapshot(int which)
{
    chunk *ch;
    size_t i, n;
    for (ch = chunks, n = chunk_used; ch != NULL; ch = ch->next, n = CHUNK) {
        for (i = 0; i < n; ++i) {
            if (which == 0) {
                ch->slots[i].first = ch->slots[i].count;
            } else {
                ch->slots[i].last = ch->slots[i].count;
            }
        }
    }
}

/* Write "pc count" lines; to a temporary name first, so a reader never sees half a file. */
static void write_profile(int at_mark)
{
    chunk *ch;
    size_t i, n, len = strlen(profile_path);
    char *tmp = malloc(len + 5u);
    FILE *f;
    if (tmp == NULL) {
        return;
    }
    memcpy(tmp, profile_path, len);
    memcpy(tmp + len, ".tmp", 5u);
    f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "pb_icount: cannot write %s\n", tmp);
        free(tmp);
        return;
    }
    for (ch = chunks, n = chunk_used; ch != NULL; ch = ch->next, n = CHUNK) {
        for (i = 0; i < n; ++i) {
            const pc_counter *c = &ch->slots[i];
            uint64_t end = at_mark ? c->count : c->last;
            if (end != c->first) {
                fprintf(f, "%" PRIx64 " %" PRIu64 "\n", c->pc, end - c->first);
            }
        }
    }
    fclose(f);
    rename(tmp, profile_path);
    free(tmp);
    profile_written = 1;
}

static void profile_mark(void)
{
    uint64_t k = marks_seen++;
    if (profile_path == NULL || profile_written || k < profile_from) {
        return;
    }
    if (k == profile_from) {
        snapshot(0);
    }
    if (profile_to_given) {
        if (k == profile_to) {
            write_profile(1);
        }
    } else {
        snapshot(1);
    }
}

static void on_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr, void *udata)
{
    (void)vcpu;
    (void)udata;
    if (qemu_plugin_mem_is_store(info) && vaddr == marker) {
        fprintf(out, "%" PRIu64 "\n", executed);
        fflush(out);
        profile_mark();
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
        if (profile_path != NULL) {
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counter_for(pc)->count, 1);
        }
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
    if (profile_path != NULL && !profile_written && !profile_to_given && marks_seen > profile_from) {
        write_profile(0);
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
        } else if (key == 7 && strncmp(argv[i], "profile", 7) == 0) {
            profile_path = value;
        } else if (key == 4 && strncmp(argv[i], "from", 4) == 0) {
            profile_from = strtoull(value, NULL, 0);
        } else if (key == 2 && strncmp(argv[i], "to", 2) == 0) {
            profile_to = strtoull(value, NULL, 0);
            profile_to_given = 1;
        } else {
            fprintf(stderr, "pb_icount: unknown argument '%s'\n", argv[i]);
            return -1;
        }
    }
    if (path == NULL || mark_hi <= mark_lo) {
        fprintf(stderr, "pb_icount: needs out=PATH, marker=ADDR, mark_lo=ADDR and mark_hi=ADDR\n");
        return -1;
    }
    if (profile_path != NULL && (*profile_path == '\0' || (profile_to_given && profile_to < profile_from))) {
        fprintf(stderr, "pb_icount: profile=PATH needs a file name, and from=N <= to=N\n");
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
