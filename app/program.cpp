// apiary: the command-line program. See `apiary --help` and README.md.
#include "app/commands.h"

int main(int argc, char** argv) { return apiary::app::run_cli(argc, argv); }
