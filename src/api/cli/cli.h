/* cli.h: what lqctl's command modules share: the connection to the daemon,
 * output helpers and tolerant accessors for reply JSON. */
#ifndef LQ_CLI_H
#define LQ_CLI_H 1

#include <stdbool.h>
#include "http_client.h"
#include "openvswitch/json.h"

struct cli {
    const char *server;         /* https://host:port, or NULL: Unix socket. */
    char *socket;
    struct lq_http_client_options http;
    bool json_output;
};

/* Calls PATH ("pkg.Service/Method"); prints "lqctl: CODE: message" and
 * returns NULL on failure. */
struct json *cli_call(struct cli *, const char *path,
                      const struct json *request);
void print_json(const struct json *);
char *human_bytes(unsigned long long bytes);
char *human_duration(long long seconds);

/* Field readers that return "", 0, false or an empty array when absent. */
const char *cli_str(const struct json *obj, const char *field);
long long cli_num(const struct json *obj, const char *field);
bool cli_bool(const struct json *obj, const char *field);
const struct json_array *cli_array(const struct json *obj, const char *field);

/* Command modules: return the exit code (0, 1 server error, 2 usage). */
int cmd_pool(struct cli *, int argc, char *argv[]);
int cmd_volume(struct cli *, int argc, char *argv[]);

#endif
