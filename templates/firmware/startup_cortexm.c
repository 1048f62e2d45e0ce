/* Cortex-M start-up: vector table, .data/.bss set-up, FPU enable, faults reset the core. */
#include <stdint.h>
#include <string.h>

#include "pb_board.h"

extern uint32_t __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__, __stack_top__;
extern int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void SysTick_Handler(void);

#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void Reset_Handler(void)
{
    memcpy(&__data_start__, &__data_load__, (size_t)((uint8_t *)&__data_end__ - (uint8_t *)&__data_start__));
    memset(&__bss_start__, 0, (size_t)((uint8_t *)&__bss_end__ - (uint8_t *)&__bss_start__));
#if PB_HAS_FPU
    CPACR |= 0xFu << 20; /* CP10 and CP11 full access: FPU (and MVE on the M55) */
    __asm__ volatile("dsb\n\tisb");
#endif
    main();
    pb_system_reset();
}

/* Any fault: reset (under QEMU -no-reboot, exit) rather than hang silently. */
void Fault_Handler(void)
{
    pb_system_reset();
}

typedef void (*vector_t)(void);

__attribute__((section(".vectors"), used)) const vector_t pb_vectors[16] = {
    (vector_t)(uintptr_t)&__stack_top__,
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    Fault_Handler, /* SecureFault */
    0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    SysTick_Handler,
};
