/* nbctl.h: `lqctl nb`, ovn-nbctl 23.03's read-only commands over our own
 * Northbound IDL (the generated nbrec_ one), byte-for-byte the same output,
 * errors and exit status; see docs/lqctl-nb.md.
 *
 * nbctl.c is the driver (options, database, running and printing),
 * nbctl_cmds.c the commands, nbctl_util.c the pure helpers. */
#ifndef LQ_NBCTL_H
#define LQ_NBCTL_H 1

/* Runs the command line 'argv' ('argv[0]' is only a name, as for main()),
 * e.g. {"nb", "--db=unix:/x.sock", "ls-list"}.  Prints what ovn-nbctl
 * prints and returns 0, or prints the error ovn-nbctl prints and exits the
 * process with status 1, as ovn-nbctl does (a command that would write,
 * or that lqctl nb does not offer, is refused the same way).  Call at most
 * once per process: the command tables it registers are global. */
int nbctl_main(int argc, char *argv[]);

#endif /* nbctl.h */
