/* lqctl_nb.h: the lqctl subcommands that read the OVN Northbound database
 * directly: `lqctl nb`, the ovn-nbctl compatible view, and the platform
 * views `lqctl net show` and `lqctl sg explain` (src/ovn-bridge/nbctl.h,
 * nbctl_net.h, docs/lqctl-nb.md). */
#ifndef LQ_LQCTL_NB_H
#define LQ_LQCTL_NB_H 1

/* `lqctl nb ARGS...`: 'argv[0]' is the word "nb", the rest an ovn-nbctl
 * command line.  Returns the exit status, or exits the process with status
 * 1 on an error, exactly as ovn-nbctl would. */
int cmd_nb(int argc, char *argv[]);

/* `lqctl net show [--db=REMOTE] [NETWORK]` ('argv[0]' is "net") and
 * `lqctl sg explain [--db=REMOTE] PORT` ('argv[0]' is "sg").  Return 0, 1
 * (not found, no database) or 2 (usage). */
int cmd_net(int argc, char *argv[]);
int cmd_sg(int argc, char *argv[]);

#endif /* lqctl_nb.h */
