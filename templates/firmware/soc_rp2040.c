/* RP2040 bring-up: run from the 12 MHz crystal, take UART0 and the GPIO blocks out of
 * reset, and route GP0/GP1 to UART0. Register addresses from the RP2040 datasheet. */
#include "pb_board.h"

#define REG(addr) (*(volatile uint32_t *)(addr))
#define CLEAR_ALIAS 0x3000u /* writes to base + 0x3000 clear the bits written */

#define RESETS_BASE 0x4000C000u
#define RESETS_RESET REG(RESETS_BASE + 0x0u)
#define RESETS_DONE REG(RESETS_BASE + 0x8u)
#define RESET_IO_BANK0 (1u << 5)
#define RESET_PADS_BANK0 (1u << 8)
#define RESET_UART0 (1u << 22)

#define XOSC_BASE 0x40024000u
#define XOSC_CTRL REG(XOSC_BASE + 0x00u)
#define XOSC_STATUS REG(XOSC_BASE + 0x04u)
#define XOSC_STARTUP REG(XOSC_BASE + 0x0Cu)
#define XOSC_FREQ_1_15MHZ 0xAA0u
#define XOSC_ENABLE (0xFABu << 12)
#define XOSC_STABLE (1u << 31)

#define CLOCKS_BASE 0x40008000u
#define CLK_REF_CTRL REG(CLOCKS_BASE + 0x30u)
#define CLK_REF_SELECTED REG(CLOCKS_BASE + 0x38u)
#define CLK_SYS_CTRL REG(CLOCKS_BASE + 0x3Cu)
#define CLK_SYS_SELECTED REG(CLOCKS_BASE + 0x44u)
#define CLK_PERI_CTRL REG(CLOCKS_BASE + 0x48u)
#define CLK_REF_SRC_XOSC 2u
#define CLK_PERI_ENABLE (1u << 11) /* aux source 0 = clk_sys */

#define IO_BANK0_GPIO_CTRL(n) REG(0x40014004u + 8u * (n))
#define GPIO_FUNC_UART 2u

void pb_soc_init(void)
{
    /* crystal on; ~1 ms start-up delay in units of 256 cycles of 12 MHz */
    XOSC_CTRL = XOSC_FREQ_1_15MHZ;
    XOSC_STARTUP = 47u;
    XOSC_CTRL = XOSC_FREQ_1_15MHZ | XOSC_ENABLE;
    while (!(XOSC_STATUS & XOSC_STABLE)) {
    }
    /* clk_ref from the crystal, clk_sys from clk_ref (glitch-free muxes: wait for the switch) */
    CLK_REF_CTRL = CLK_REF_SRC_XOSC;
    while (CLK_REF_SELECTED != (1u << CLK_REF_SRC_XOSC)) {
    }
    CLK_SYS_CTRL = 0u;
    while (CLK_SYS_SELECTED != 1u) {
    }
    CLK_PERI_CTRL = CLK_PERI_ENABLE;
    /* out of reset: GPIO pads and functions, UART0 */
    REG(RESETS_BASE + CLEAR_ALIAS) = RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0;
    while ((RESETS_DONE & (RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0))
           != (RESET_IO_BANK0 | RESET_PADS_BANK0 | RESET_UART0)) {
    }
    IO_BANK0_GPIO_CTRL(0) = GPIO_FUNC_UART; /* GP0: UART0 TX */
    IO_BANK0_GPIO_CTRL(1) = GPIO_FUNC_UART; /* GP1: UART0 RX */
}
