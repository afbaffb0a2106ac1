/* nbctl.c: the driver of `lqctl nb` (see nbctl.h).
 *
 * It follows ovn-nbctl 23.03 in its direct mode (utilities/ovn-dbctl.c)
 * step by step, because every step shows in the output: the same option
 * table (so abbreviations, unknown options and OVN_NBCTL_OPTIONS behave
 * alike), OVS's db-ctl-base for splitting the command line and for the
 * generic commands (list, get, find), an IDL replica of only the columns
 * the commands ask for, commands run against that replica in a
 * transaction, and output printed only once every command succeeded.
 * Errors go through ctl_fatal() under the program name "ovn-nbctl", so a
 * script sees the very message and exit status ovn-nbctl would give.
 *
 * Where we differ, on purpose: the transaction is never committed (a
 * command that would write, or "sync" with a --wait that would bump nb_cfg,
 * is refused before we connect, under the name "lqctl nb"; --wait with the
 * other commands is accepted and, as in ovn-nbctl, waits for nothing, since
 * nothing changes), there is no daemon mode
 * (OVN_NB_DAEMON is ignored), and a database without its NB_Global row is
 * not "initialised" the way ovn-nbctl silently does. */
#include <config.h>
#include "nbctl.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command-line.h"
#include "db-ctl-base.h"
#include "fatal-signal.h"
#include "lq-ovn-nb-idl.h"
#include "nbctl_cmds.h"
#include "nbctl_util.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vlog.h"
#include "ovsdb-data.h"
#include "ovsdb-idl.h"
#include "process.h"
#include "stream-ssl.h"
#include "table.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ovn_dbctl);

/* What the command line asked for. */
struct nbctl_config {
    const char *db;
    bool oneline;
    unsigned int timeout;
    const char *wait;           /* Last --wait argument, "none" for
                                 * --no-wait, NULL if neither. */
    bool leader_only;
    bool shuffle_remotes;
    const char *ssl_private_key;
    const char *ssl_certificate;
    const char *ssl_ca_cert;
    struct table_style style;
};

/* For nbctl_exit() only, which ctl_fatal() calls. */
static struct ovsdb_idl *the_idl;
static struct ovsdb_idl_txn *the_txn;

static void OVS_NO_RETURN
nbctl_exit(int status)
{
    if (the_txn) {
        ovsdb_idl_txn_abort(the_txn);
        ovsdb_idl_txn_destroy(the_txn);
        the_txn = NULL;
    }
    ovsdb_idl_destroy(the_idl);
    the_idl = NULL;
    exit(status);
}

/* A refusal of our own: not an ovn-nbctl message, so not under its name. */
static void OVS_NO_RETURN
nbctl_refuse(char *message)
{
    fprintf(stderr, "lqctl nb: %s\n", message);
    free(message);
    nbctl_exit(EXIT_FAILURE);
}

/* The options, in ovn-nbctl's order and with its values: getopt resolves
 * abbreviations against this exact table. */
enum {
    OPT_DB = UCHAR_MAX + 1,
    OPT_NO_SYSLOG,
    OPT_LOCAL,
    OPT_COMMANDS,
    OPT_OPTIONS,
    OPT_LEADER_ONLY,
    OPT_NO_LEADER_ONLY,
    OPT_SHUFFLE_REMOTES,
    OPT_NO_SHUFFLE_REMOTES,
    OPT_BOOTSTRAP_CA_CERT,
    OPT_NO_WAIT,
    OPT_WAIT,
    OPT_PRINT_WAIT_TIME,
    OPT_DRY_RUN,
    OPT_ONELINE,
    OPT_DETACH,
    OPT_NO_SELF_CONFINEMENT,
    OPT_NO_CHDIR,
    OPT_OVERWRITE_PIDFILE,
    OPT_PIDFILE,
    OPT_MONITOR,
    OPT_USER_GROUP,
    VLOG_OPTION_ENUMS,
    TABLE_OPTION_ENUMS,
    SSL_OPTION_ENUMS,
};

static const struct option global_options[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"no-syslog", no_argument, NULL, OPT_NO_SYSLOG},
    {"help", no_argument, NULL, 'h'},
    {"commands", no_argument, NULL, OPT_COMMANDS},
    {"options", no_argument, NULL, OPT_OPTIONS},
    {"leader-only", no_argument, NULL, OPT_LEADER_ONLY},
    {"no-leader-only", no_argument, NULL, OPT_NO_LEADER_ONLY},
    {"shuffle-remotes", no_argument, NULL, OPT_SHUFFLE_REMOTES},
    {"no-shuffle-remotes", no_argument, NULL, OPT_NO_SHUFFLE_REMOTES},
    {"version", no_argument, NULL, 'V'},
    {"unixctl", required_argument, NULL, 'u'},
    {"no-wait", no_argument, NULL, OPT_NO_WAIT},
    {"wait", required_argument, NULL, OPT_WAIT},
    {"print-wait-time", no_argument, NULL, OPT_PRINT_WAIT_TIME},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"oneline", no_argument, NULL, OPT_ONELINE},
    {"timeout", required_argument, NULL, 't'},
    {"detach", no_argument, NULL, OPT_DETACH},
    {"no-self-confinement", no_argument, NULL, OPT_NO_SELF_CONFINEMENT},
    {"no-chdir", no_argument, NULL, OPT_NO_CHDIR},
    {"pidfile", optional_argument, NULL, OPT_PIDFILE},
    {"overwrite-pidfile", no_argument, NULL, OPT_OVERWRITE_PIDFILE},
    {"monitor", no_argument, NULL, OPT_MONITOR},
    {"user", required_argument, NULL, OPT_USER_GROUP},
    VLOG_LONG_OPTIONS,
    STREAM_SSL_LONG_OPTIONS,
    {"bootstrap-ca-cert", required_argument, NULL, OPT_BOOTSTRAP_CA_CERT},
    TABLE_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* The global options followed by every command's own options (which may
 * also be given before the first command). */
static const struct option *
all_options(void)
{
    static struct option *options;
    if (!options) {
        size_t n = ARRAY_SIZE(global_options) - 1;
        size_t allocated = n + 1;
        options = xmemdup(global_options, allocated * sizeof *options);
        ctl_add_cmd_options(&options, &n, &allocated, OPT_LOCAL);
    }
    return options;
}

static void
usage(void)
{
    printf("\
%s: read-only, ovn-nbctl compatible view of the OVN Northbound database\n\
usage: lqctl nb [OPTIONS] COMMAND [ARG...] [-- COMMAND [ARG...]]...\n\
\n\
Output, errors and exit status are those of ovn-nbctl 23.03 for:\n\
  show [SWITCH|ROUTER]      ls-list                   lsp-list SWITCH\n\
  lsp-get-addresses PORT    lsp-get-port-security PORT\n\
  lsp-get-up PORT           lsp-get-enabled PORT      lsp-get-type PORT\n\
  lsp-get-options PORT      lsp-get-parent PORT       lsp-get-tag PORT\n\
  lsp-get-dhcpv4-options PORT  lsp-get-dhcpv6-options PORT\n\
  lsp-get-ls PORT           [--type=switch|port-group] acl-list SWITCH|PG\n\
  qos-list SWITCH           meter-list                mirror-list\n\
  lr-list                   lrp-list ROUTER           lrp-get-enabled PORT\n\
  lrp-get-redirect-type PORT  lrp-get-gateway-chassis PORT\n\
  [--route-table=TABLE] lr-route-list ROUTER          lr-policy-list ROUTER\n\
  lr-nat-list ROUTER        lb-list [LB]              ls-lb-list SWITCH\n\
  lr-lb-list ROUTER         dhcp-options-list\n\
  dhcp-options-get-options UUID                     static-mac-binding-list\n\
  ha-chassis-group-list     get-connection            get-ssl\n\
  sync                      comment [ARG]...\n\
  [--columns=COLS] list TABLE [RECORD]...\n\
  [--if-exists] [--id=@NAME] get TABLE RECORD [COLUMN[:KEY]]...\n\
  [--columns=COLS] find TABLE [COLUMN[:KEY]=VALUE]...\n\
  wait-until TABLE RECORD [COLUMN[:KEY]=VALUE]...\n\
Commands that change the database are refused.\n\
\n\
Options:\n\
  --db=DATABASE             connect to DATABASE (default: $OVN_NB_DB, or\n\
                            %s)\n\
  -f, --format=FORMAT       table, list, csv, json, html (generic commands)\n\
  -d, --data=FORMAT         string, bare or json cell format\n\
  --no-headings, --bare, --pretty, --max-column-width=N, --oneline\n\
  -t, --timeout=SECS        give up after SECS seconds\n\
  -p, -c, -C, --bootstrap-ca-cert  SSL key, certificate, CA certificate\n\
  --no-leader-only, --no-shuffle-remotes, -v[SPEC], --log-file[=FILE]\n\
Errors read \"ovn-nbctl: ...\" as ovn-nbctl's do; lqctl nb's own refusals\n\
read \"lqctl nb: ...\".  OVN_NBCTL_OPTIONS is honoured, OVN_NB_DAEMON is\n\
not (there is no daemon mode).\n",
           "lqctl nb", "unix:$OVN_RUNDIR/ovnnb_db.sock");
}

static const char *
default_db(void)
{
    static char *db;
    if (!db) {
        const char *env = getenv("OVN_NB_DB");
        const char *rundir = getenv("OVN_RUNDIR");
        db = env ? xstrdup(env)
                 : xasprintf("unix:%s/ovnnb_db.sock",
                             rundir ? rundir : "/var/run/ovn");
    }
    return db;
}

static void
add_local_option(struct shash *local_options, const char *name,
                 const char *arg)
{
    char *full_name = xasprintf("--%s", name);
    if (shash_find(local_options, full_name)) {
        ctl_fatal("'%s' option specified multiple times", full_name);
    }
    shash_add_nocopy(local_options, full_name, nullable_xstrdup(arg));
}

/* Applies the parsed options to 'cfg' and 'local_options' (the command
 * options given before the first command). */
static void
apply_options(const struct ovs_cmdl_parsed_option *po, size_t n,
              struct nbctl_config *cfg, struct shash *local_options)
{
    for (size_t i = 0; i < n; i++) {
        const char *arg = po[i].arg;
        char *refusal = nbctl_check_option(po[i].o->name);
        if (refusal) {
            nbctl_refuse(refusal);
        }

        optarg = CONST_CAST(char *, arg);
        switch (po[i].o->val) {
        case OPT_ONELINE:
            cfg->oneline = true;
            break;
        case OPT_NO_WAIT:
            cfg->wait = "none";
            break;
        case OPT_WAIT:
            if (strcmp(arg, "none") && strcmp(arg, "sb")
                && strcmp(arg, "hv")) {
                ctl_fatal("argument to --wait must be "
                          "\"none\", \"sb\", or \"hv\"");
            }
            cfg->wait = arg;
            break;
        case OPT_PRINT_WAIT_TIME:
        case OPT_DRY_RUN:
            /* Read-only transactions never wait and are never committed. */
            break;
        case 't':
            if (!str_to_uint(arg, 10, &cfg->timeout) || !cfg->timeout) {
                ctl_fatal("value %s on -t or --timeout is invalid", arg);
            }
            break;
        case OPT_DB:
            cfg->db = arg;
            break;
        case OPT_NO_SYSLOG:
            vlog_set_levels(&this_module, VLF_SYSLOG, VLL_WARN);
            break;
        case OPT_LOCAL:
            add_local_option(local_options, po[i].o->name, arg);
            break;
        case 'h':
            usage();
            exit(EXIT_SUCCESS);
        case OPT_COMMANDS:
            ctl_print_commands();
            /* fall through */
        case OPT_OPTIONS:
            ctl_print_options(all_options());
            OVS_NOT_REACHED();          /* ctl_print_options() exits. */
        case OPT_LEADER_ONLY:
            cfg->leader_only = true;
            break;
        case OPT_NO_LEADER_ONLY:
            cfg->leader_only = false;
            break;
        case OPT_SHUFFLE_REMOTES:
            cfg->shuffle_remotes = true;
            break;
        case OPT_NO_SHUFFLE_REMOTES:
            cfg->shuffle_remotes = false;
            break;
        case 'V':
            printf("lqctl nb (limiquantix-node %s), ovn-nbctl 23.03 "
                   "compatible\nOpen vSwitch Library %s\nDB Schema %s\n",
                   LQ_VERSION, VERSION, nbrec_get_db_version());
            exit(EXIT_SUCCESS);
        case 'p':
            cfg->ssl_private_key = arg;
            break;
        case 'c':
            cfg->ssl_certificate = arg;
            break;
        case 'C':
            cfg->ssl_ca_cert = arg;
            break;
        case OPT_SSL_PROTOCOLS:
            stream_ssl_set_protocols(arg);
            break;
        case OPT_SSL_CIPHERS:
            stream_ssl_set_ciphers(arg);
            break;
        case OPT_BOOTSTRAP_CA_CERT:
            stream_ssl_set_ca_cert_file(arg, true);
            break;

        VLOG_OPTION_HANDLERS
        TABLE_OPTION_HANDLERS(&cfg->style)

        default:
            /* The daemon options, refused by nbctl_check_option(). */
            OVS_NOT_REACHED();
        }
    }

    if (!cfg->db) {
        cfg->db = default_db();
    }
    if (cfg->ssl_private_key && cfg->ssl_certificate) {
        stream_ssl_set_key_and_cert(cfg->ssl_private_key,
                                    cfg->ssl_certificate);
    }
    if (cfg->ssl_ca_cert) {
        stream_ssl_set_ca_cert_file(cfg->ssl_ca_cert, false);
    }
}

/* Lets every command add the tables and columns it reads to the IDL. */
static char *
run_prerequisites(struct ctl_command *commands, size_t n,
                  struct ovsdb_idl *idl)
{
    ovsdb_idl_add_table(idl, &nbrec_table_nb_global);
    for (size_t i = 0; i < n; i++) {
        struct ctl_command *c = &commands[i];
        if (c->syntax->prerequisites) {
            struct ctl_context ctx;

            ds_init(&c->output);
            c->table = NULL;
            ctl_context_init(&ctx, c, idl, NULL, NULL, NULL);
            c->syntax->prerequisites(&ctx);
            if (ctx.error) {
                char *error = xstrdup(ctx.error);
                ctl_context_done(&ctx, c);
                return error;
            }
            ctl_context_done(&ctx, c);
        }
    }
    return NULL;
}

/* Runs the commands against the replica in a transaction that is never
 * committed.  Returns an error, or NULL with '*retry' telling whether a
 * command (wait-until) wants to see the database change first. */
static char *
run_commands(struct ctl_command *commands, size_t n, struct ovsdb_idl *idl,
             bool *retry)
{
    struct ovsdb_symbol_table *symtab = ovsdb_symbol_table_create();
    struct ctl_context ctx;
    struct shash_node *node;
    char *error = NULL;

    *retry = false;
    the_txn = ovsdb_idl_txn_create(idl);
    for (size_t i = 0; i < n; i++) {
        ds_init(&commands[i].output);
        commands[i].table = NULL;
    }

    ctl_context_init(&ctx, NULL, idl, the_txn, symtab, NULL);
    for (size_t i = 0; i < n; i++) {
        struct ctl_command *c = &commands[i];

        ctl_context_init_command(&ctx, c, i == n - 1);
        if (c->syntax->run) {
            c->syntax->run(&ctx);
        }
        if (ctx.error) {
            error = xstrdup(ctx.error);
            ctl_context_done(&ctx, c);
            goto out;
        }
        ctl_context_done_command(&ctx, c);
        if (ctx.try_again) {
            *retry = true;
            break;
        }
    }
    ctl_context_done(&ctx, NULL);
    if (*retry) {
        goto out;
    }

    SHASH_FOR_EACH (node, &symtab->sh) {
        struct ovsdb_symbol *symbol = node->data;
        if (!symbol->created) {
            error = xasprintf("row id \"%s\" is referenced but never created "
                              "(e.g. with \"-- --id=%s create ...\")",
                              node->name, node->name);
            goto out;
        }
        if (!symbol->strong_ref) {
            VLOG_WARN("row id \"%s\" was created but %s, so it will not "
                      "actually appear in the database", node->name,
                      symbol->weak_ref
                      ? "only a weak reference to it was inserted"
                      : "no reference to it was inserted");
        }
    }

out:
    ovsdb_idl_txn_abort(the_txn);
    ovsdb_idl_txn_destroy(the_txn);
    the_txn = NULL;
    ovsdb_symbol_table_destroy(symtab);
    return error;
}

/* Waits for the replica, then runs the commands (again, each time the
 * database changes, while wait-until is not satisfied). */
static char *
main_loop(const struct nbctl_config *cfg, struct ctl_command *commands,
          size_t n, struct ovsdb_idl *idl)
{
    unsigned int seqno = ovsdb_idl_get_seqno(idl);
    bool ready = ovsdb_idl_has_ever_connected(idl);

    for (;;) {
        ovsdb_idl_run(idl);
        if (!ovsdb_idl_is_alive(idl)) {
            int retval = ovsdb_idl_get_last_error(idl);
            ctl_fatal("%s: database connection failed (%s)",
                      cfg->db, ovs_retval_to_string(retval));
        }

        if (ready || seqno != ovsdb_idl_get_seqno(idl)) {
            bool retry;

            ready = false;
            seqno = ovsdb_idl_get_seqno(idl);
            char *error = run_commands(commands, n, idl, &retry);
            if (error || !retry) {
                return error;
            }
            for (size_t i = 0; i < n; i++) {
                ds_destroy(&commands[i].output);
                table_destroy(commands[i].table);
                free(commands[i].table);
                commands[i].table = NULL;
            }
        }

        if (seqno == ovsdb_idl_get_seqno(idl)) {
            ovsdb_idl_wait(idl);
            poll_block();
        }
    }
}

/* Prints 'lines' on one line, newlines and backslashes escaped. */
static void
print_oneline(struct ds *lines)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    ds_chomp(lines, '\n');
    for (size_t i = 0; i < lines->length; i++) {
        char c = lines->string[i];
        if (c == '\n') {
            ds_put_cstr(&s, "\\n");
        } else if (c == '\\') {
            ds_put_cstr(&s, "\\\\");
        } else {
            ds_put_char(&s, c);
        }
    }
    ds_put_char(&s, '\n');
    fputs(ds_cstr(&s), stdout);
    ds_destroy(&s);
}

static void
free_args(int argc, char **args)
{
    for (int i = 0; i < argc; i++) {
        free(args[i]);
    }
    free(args);
}

int
nbctl_main(int argc, char *argv[])
{
    struct nbctl_config cfg = {
        .leader_only = true,
        .shuffle_remotes = true,
        .style = TABLE_STYLE_DEFAULT,
    };
    struct ovs_cmdl_parsed_option *parsed;
    size_t n_parsed;
    struct shash local_options = SHASH_INITIALIZER(&local_options);

    ovs_set_program_name("ovn-nbctl", LQ_VERSION);
    fatal_ignore_sigpipe();
    vlog_set_levels(NULL, VLF_CONSOLE, VLL_WARN);
    vlog_set_levels_from_string_assert("reconnect:warn");
    ctl_init__(&nbrec_idl_class, nbctl_tables, NULL, nbctl_exit);
    ctl_register_commands(nbctl_commands);

    char **args = ovs_cmdl_env_parse_all(&argc, argv,
                                         getenv("OVN_NBCTL_OPTIONS"));
    char *error = ovs_cmdl_parse_all(argc, args, all_options(), &parsed,
                                     &n_parsed);
    if (error) {
        ctl_fatal("%s", error);
    }
    apply_options(parsed, n_parsed, &cfg, &local_options);
    free(parsed);

    /* Created before the commands are parsed, as ovn-nbctl does, so that
     * even the debug log reads the same. */
    the_idl = ovsdb_idl_create_unconnected(&nbrec_idl_class, false);
    ovsdb_idl_set_shuffle_remotes(the_idl, cfg.shuffle_remotes);
    ovsdb_idl_set_db_change_aware(the_idl, false);
    ovsdb_idl_set_remote(the_idl, cfg.db, false);
    ovsdb_idl_set_leader_only(the_idl, cfg.leader_only);

    struct ctl_command *commands;
    size_t n_commands;
    error = ctl_parse_commands(argc - optind, args + optind, &local_options,
                               &commands, &n_commands);
    if (error) {
        ctl_fatal("%s", error);
    }
    char *refusal = nbctl_check_commands(commands, n_commands, cfg.wait);
    if (refusal) {
        nbctl_refuse(refusal);
    }
    free(args[0]);
    args[0] = xstrdup(program_name);
    char *called_as = process_escape_args(args);
    VLOG_DBG("Called as %s", called_as);
    free(called_as);

    ctl_timeout_setup(cfg.timeout);

    error = run_prerequisites(commands, n_commands, the_idl);
    if (!error) {
        error = main_loop(&cfg, commands, n_commands, the_idl);
    }
    if (error) {
        ctl_fatal("%s", error);
    }

    for (size_t i = 0; i < n_commands; i++) {
        struct ctl_command *c = &commands[i];
        if (c->table) {
            table_print(c->table, &cfg.style);
        } else if (cfg.oneline) {
            print_oneline(&c->output);
        } else {
            fputs(ds_cstr(&c->output), stdout);
        }
        ds_destroy(&c->output);
        table_destroy(c->table);
        free(c->table);
        shash_destroy_free_data(&c->options);
    }
    free(commands);
    shash_destroy_free_data(&local_options);
    ovsdb_idl_destroy(the_idl);
    the_idl = NULL;
    free_args(argc, args);
    return fflush(stdout) ? EXIT_FAILURE : EXIT_SUCCESS;
}
