"""A bare-metal check program for a simulated Arm board: the tests' own startup (vectors,
data/bss copy, semihosting exit with main's verdict), linked with generated C and run in
QEMU. A check's main() returns 0 when the device computed what the host expected."""

from __future__ import annotations

import subprocess
from pathlib import Path

from protobrain.codegen.c import env as c_env

# Semihosting SYS_EXIT: QEMU exits with 0 for ApplicationExit, 1 for anything else. CPACR
# turns the FPU (and Helium) on, as the firmware's startup does.
STARTUP = r"""
#include <stdint.h>
#include <string.h>

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
int main(void);
void reset_handler(void);
void fault_handler(void);

static void semihost_exit(uint32_t reason)
{
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = reason;
    __asm__ volatile("bkpt 0xAB" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

void reset_handler(void)
{
    *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb");
    memcpy(&__data_start__, &__data_load__, (size_t)((uint8_t *)&__data_end__ - (uint8_t *)&__data_start__));
    memset(&__bss_start__, 0, (size_t)((uint8_t *)&__bss_end__ - (uint8_t *)&__bss_start__));
    semihost_exit(main() == 0 ? 0x20026u : 0x20023u);
}

void fault_handler(void)
{
    semihost_exit(0x20023u);
}

typedef void (*vector_t)(void);
__attribute__((section(".vectors"), used)) const vector_t vectors[16] = {
    (vector_t)(uintptr_t)&__stack_top__, reset_handler, fault_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0, fault_handler, fault_handler};
"""


def run_check(board, folder: Path, main_c: str, sources: list[Path]) -> subprocess.CompletedProcess:
    """Compile STARTUP + main_c with `sources` for `board` (strict warnings) and run it in
    QEMU; returncode 0 when main() returned 0. The compile must succeed."""
    folder = Path(folder)
    (folder / "link.ld").write_text(c_env().get_template("firmware/link.ld.j2").render(board=board, stack_size=8192))
    (folder / "check_main.c").write_text(STARTUP + main_c)
    elf = folder / "check.elf"
    proc = subprocess.run(["arm-none-eabi-gcc", *board.cflags, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror",
                           "--specs=nano.specs", "--specs=nosys.specs", "-nostartfiles", f"-T{folder / 'link.ld'}",
                           "-o", str(elf), str(folder / "check_main.c"), *map(str, sources)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return subprocess.run(["qemu-system-arm", "-machine", board.run["machine"], "-nographic", "-monitor", "none",
                           "-serial", "null", "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
