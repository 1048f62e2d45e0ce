/* Cycle counting on Cortex-M: the DWT cycle counter when the core has a working one
 * (detected at run time: QEMU and the Cortex-M0 have none), otherwise SysTick at the
 * core clock with a software extension of its 24 bits. */
#include "pb_board.h"

#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SCB_AIRCR (*(volatile uint32_t *)0xE000ED0Cu)

#define SYSTICK_RELOAD 0x00FFFFFFu

static uint8_t kind = PB_COUNT_NONE;
static volatile uint32_t systick_wraps;
static uint32_t start_lo;
static uint32_t start_wraps;

void SysTick_Handler(void)
{
    systick_wraps++;
}

static int dwt_works(void)
{
#if PB_HAS_DWT
    volatile uint32_t spin;
    uint32_t before;
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u; /* unlock, needed on the Cortex-M7 */
    DWT_CYCCNT = 0u;
    DWT_CTRL |= 1u;
    before = DWT_CYCCNT;
    for (spin = 0; spin < 16u; ++spin) {
    }
    return DWT_CYCCNT != before;
#else
    return 0;
#endif
}

void pb_timer_init(void)
{
    if (dwt_works()) {
        kind = PB_COUNT_DWT_CYCLES;
        return;
    }
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = 0x7u; /* core clock, interrupt on wrap, enable */
    kind = (SYST_CSR & 1u) ? PB_COUNT_SYSTICK_CYCLES : PB_COUNT_NONE;
}

uint8_t pb_timer_kind(void)
{
    return kind;
}

static void systick_now(uint32_t *lo, uint32_t *wraps)
{
    uint32_t w1, v;
    do { /* read a consistent (wraps, value) pair */
        w1 = systick_wraps;
        v = SYST_CVR;
    } while (w1 != systick_wraps);
    *lo = SYSTICK_RELOAD - v; /* SysTick counts down */
    *wraps = w1;
}

void pb_timer_start(void)
{
    if (kind == PB_COUNT_DWT_CYCLES) {
        start_lo = DWT_CYCCNT;
    } else if (kind == PB_COUNT_SYSTICK_CYCLES) {
        systick_now(&start_lo, &start_wraps);
    }
}

uint64_t pb_timer_elapsed(void)
{
    uint32_t lo, wraps;
    if (kind == PB_COUNT_DWT_CYCLES) {
        return (uint32_t)(DWT_CYCCNT - start_lo);
    }
    if (kind == PB_COUNT_SYSTICK_CYCLES) {
        systick_now(&lo, &wraps);
        return (uint64_t)(wraps - start_wraps) * (SYSTICK_RELOAD + 1u) + lo - start_lo;
    }
    return 0u;
}

void pb_system_reset(void)
{
    SCB_AIRCR = 0x05FA0004u; /* SYSRESETREQ; QEMU run with -no-reboot then exits */
    for (;;) {
    }
}
