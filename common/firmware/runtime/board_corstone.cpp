// Corstone-300 (Cortex-M55 + Ethos-U55/U65) and Corstone-320 (Cortex-M85 + Ethos-U85): FVPs and MPS3/MPS4.
//
// The ExecuTorch cross build links ethos-u-core-platform's target library for the board, whose start-up
// code initialises the UART retarget (printf -> UART0, which the FVP shows on its console with
// -C mps3_board.uart0.out_file=-) and the Ethos-U driver with its interrupt, before main(). So nothing is
// left to do here but say which board this is.
#include "tz_board.h"
#include "tz_platform.h"

extern "C" {

const char* tz_platform_name(void) { return TZ_BOARD_NAME; }

int tz_board_init(void) { return 0; }

}  // extern "C"
