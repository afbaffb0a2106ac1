/* lqctl_nb.c: the lqctl subcommands that read the OVN Northbound database
 * directly, through our generated IDL: `nb` (ovn-nbctl compatible, in
 * src/ovn-bridge/nbctl.c) and `net show` / `sg explain` (the platform's
 * view, in src/ovn-bridge/nbctl_net.c).
 *
 * lqctl's own options (--socket, --sandbox, -o) do not apply: the database
 * is chosen as ovn-nbctl chooses it, by --db= or $OVN_NB_DB. */
#include <config.h>
#include "lqctl_nb.h"

#include "nbctl.h"
#include "nbctl_net.h"

int
cmd_nb(int argc, char *argv[])
{
    return nbctl_main(argc, argv);
}

int
cmd_net(int argc, char *argv[])
{
    return nbctl_net_main(argc, argv);
}

int
cmd_sg(int argc, char *argv[])
{
    return nbctl_sg_main(argc, argv);
}
