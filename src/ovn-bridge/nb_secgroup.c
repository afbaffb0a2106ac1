/* nb_secgroup.c: security groups as port groups with one ACL per rule
 * (see acl.h for the mapping).  A rule's canonical JSON rides on its ACL,
 * so adding or removing a rule touches exactly one ACL row. */
#include <config.h>
#include "nb.h"

#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "jsonx.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

static struct lq_error *
check_remote_group(struct lq_net_ctx *ctx, const struct lq_sg_rule *r,
                   const char *own_id, const char *path)
{
    if (r->remote_group_id[0] && strcmp(r->remote_group_id, own_id)
        && !lq_nb_find_sg(ctx->nb, r->remote_group_id)) {
        return lq_error_new(LQ_INVALID_ARGUMENT, "%s.remoteGroupId: security "
                            "group %s not found", path, r->remote_group_id);
    }
    return NULL;
}

static struct nbrec_acl *
insert_rule_acl(struct lq_net_ctx *ctx, const char *sg_id,
                const struct lq_sg_rule *r)
{
    struct ds match = DS_EMPTY_INITIALIZER;
    struct smap ext = SMAP_INITIALIZER(&ext);
    struct json *rj = lq_sg_rule_to_json(r);
    char *rule_text = lq_json_to_string(rj);

    lq_acl_match(r, sg_id, &match);
    smap_add(&ext, EXT_SG_ID, sg_id);
    smap_add(&ext, EXT_RULE_ID, r->id);
    smap_add(&ext, EXT_RULE, rule_text);
    if (r->remote_group_id[0]) {
        smap_add(&ext, EXT_REMOTE_GROUP, r->remote_group_id);
    }

    struct nbrec_acl *acl = nbrec_acl_insert(lq_net_nb_txn(ctx));
    nbrec_acl_set_name(acl, r->id);
    nbrec_acl_set_direction(acl, lq_acl_direction(r));
    nbrec_acl_set_priority(acl, LQ_ACL_PRIORITY_RULE);
    nbrec_acl_set_match(acl, ds_cstr(&match));
    nbrec_acl_set_action(acl, "allow-related");
    nbrec_acl_set_external_ids(acl, &ext);

    ds_destroy(&match);
    smap_destroy(&ext);
    json_destroy(rj);
    free(rule_text);
    return acl;
}

/* The create request, for idempotency: defaults have random rule ids, so
 * only rules the caller gave take part. */
static struct json *
sg_request_json(const struct lq_sg_spec *sg)
{
    struct json *j = json_object_create();
    lq_json_put_string(j, "id", sg->id);
    lq_json_put_string(j, "name", sg->name);
    lq_json_put_string(j, "description", sg->description);
    if (sg->rules_given) {
        struct json *rules = json_array_create_empty();
        for (size_t i = 0; i < sg->n_rules; i++) {
            json_array_add(rules, lq_sg_rule_to_json(&sg->rules[i]));
        }
        json_object_put(j, "rules", rules);
    }
    return j;
}

static struct lq_error *
create_sg_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct lq_sg_spec *sg = &c->sg;
    struct json *request = sg_request_json(sg);

    const struct nbrec_port_group *old = lq_nb_find_sg(ctx->nb, sg->id);
    if (old) {
        bool same = lq_nb_same_json(request, smap_get(&old->external_ids,
                                                      EXT_REQUEST));
        json_destroy(request);
        if (!same) {
            return lq_error_new(LQ_ALREADY_EXISTS, "security group %s already "
                                "exists with a different spec", sg->id);
        }
        c->response = lq_nb_sg_to_json(old);
        return NULL;
    }
    for (size_t i = 0; i < sg->n_rules; i++) {
        char path[32];
        snprintf(path, sizeof path, "rules[%zu]", i);
        struct lq_error *e = check_remote_group(ctx, &sg->rules[i], sg->id,
                                                path);
        if (e) {
            json_destroy(request);
            return e;
        }
    }

    char name[40];
    char *req_text = lq_json_to_string(request);
    struct smap ext = SMAP_INITIALIZER(&ext);
    lq_sg_port_group_name(sg->id, name);
    smap_add(&ext, EXT_SG_ID, sg->id);
    smap_add(&ext, EXT_NAME, sg->name);
    smap_add(&ext, "limiquantix:description", sg->description);
    smap_add(&ext, EXT_REQUEST, req_text);
    free(req_text);
    json_destroy(request);

    struct nbrec_port_group *pg = nbrec_port_group_insert(lq_net_nb_txn(ctx));
    nbrec_port_group_set_name(pg, name);
    nbrec_port_group_set_external_ids(pg, &ext);
    smap_destroy(&ext);

    struct nbrec_acl **acls = xmalloc((sg->n_rules + 1) * sizeof *acls);
    for (size_t i = 0; i < sg->n_rules; i++) {
        acls[i] = insert_rule_acl(ctx, sg->id, &sg->rules[i]);
    }
    nbrec_port_group_set_acls(pg, acls, sg->n_rules);
    free(acls);

    c->response = lq_sg_spec_to_json(sg);
    return NULL;
}

static struct lq_error *
get_sg_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_port_group *pg = lq_nb_find_sg(ctx->nb, c->id);
    if (!pg) {
        return lq_error_new(LQ_NOT_FOUND, "security group %s not found",
                            c->id);
    }
    c->response = lq_nb_sg_to_json(pg);
    return NULL;
}

static struct lq_error *
list_sgs_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    struct json *list = json_array_create_empty();
    const struct nbrec_port_group *pg;
    NBREC_PORT_GROUP_FOR_EACH (pg, ctx->nb) {
        if (smap_get(&pg->external_ids, EXT_SG_ID)) {
            json_array_add(list, lq_nb_sg_to_json(pg));
        }
    }
    lq_nb_sort_by_id(list);
    c->response = json_object_create();
    json_object_put(c->response, "securityGroups", list);
    return NULL;
}

static struct lq_error *
delete_sg_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_port_group *pg = lq_nb_find_sg(ctx->nb, c->id);
    if (!pg) {
        return lq_error_new(LQ_NOT_FOUND, "security group %s not found",
                            c->id);
    }
    if (pg->n_ports) {
        return lq_error_new(LQ_FAILED_PRECONDITION, "security group %s is in "
                            "use by %zu port(s)", c->id, pg->n_ports);
    }
    const struct nbrec_acl *acl;
    NBREC_ACL_FOR_EACH (acl, ctx->nb) {
        const char *remote = smap_get(&acl->external_ids, EXT_REMOTE_GROUP);
        const char *owner = smap_get(&acl->external_ids, EXT_SG_ID);
        if (remote && !strcmp(remote, c->id) && owner
            && strcmp(owner, c->id)) {
            return lq_error_new(LQ_FAILED_PRECONDITION, "security group %s is "
                                "the remote group of a rule of security "
                                "group %s", c->id, owner);
        }
    }
    lq_net_nb_txn(ctx);
    nbrec_port_group_delete(pg);    /* Its ACLs go with it (not root). */
    return NULL;
}

static const struct nbrec_acl *
find_rule(const struct nbrec_port_group *pg, const char *rule_id)
{
    for (size_t i = 0; i < pg->n_acls; i++) {
        const char *id = smap_get(&pg->acls[i]->external_ids, EXT_RULE_ID);
        if (id && !strcmp(id, rule_id)) {
            return pg->acls[i];
        }
    }
    return NULL;
}

static struct lq_error *
add_rule_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_port_group *pg = lq_nb_find_sg(ctx->nb, c->id);
    if (!pg) {
        return lq_error_new(LQ_NOT_FOUND, "security group %s not found",
                            c->id);
    }
    const struct nbrec_acl *old = find_rule(pg, c->rule.id);
    if (old) {
        struct json *rj = lq_sg_rule_to_json(&c->rule);
        bool same = lq_nb_same_json(rj, smap_get(&old->external_ids,
                                                 EXT_RULE));
        json_destroy(rj);
        if (!same) {
            return lq_error_new(LQ_ALREADY_EXISTS, "rule %s already exists "
                                "with a different spec", c->rule.id);
        }
        c->response = lq_nb_sg_to_json(pg);
        return NULL;
    }
    struct lq_error *e = check_remote_group(ctx, &c->rule, c->id, "rule");
    if (e) {
        return e;
    }
    struct nbrec_acl *acl = insert_rule_acl(ctx, c->id, &c->rule);
    nbrec_port_group_update_acls_addvalue(pg, acl);

    /* The group as it will be: the replica does not show the new ACL yet. */
    c->response = lq_nb_sg_to_json(pg);
    struct json *rules = shash_find_data(json_object(c->response), "rules");
    json_array_add(rules, lq_sg_rule_to_json(&c->rule));
    return NULL;
}

static struct lq_error *
remove_rule_build(struct lq_net_ctx *ctx, void *aux)
{
    struct lq_net_call *c = aux;
    const struct nbrec_port_group *pg = lq_nb_find_sg(ctx->nb, c->id);
    if (!pg) {
        return lq_error_new(LQ_NOT_FOUND, "security group %s not found",
                            c->id);
    }
    const struct nbrec_acl *acl = find_rule(pg, c->rule.id);
    if (!acl) {
        return lq_error_new(LQ_NOT_FOUND, "rule %s not found in security "
                            "group %s", c->rule.id, c->id);
    }
    lq_net_nb_txn(ctx);
    nbrec_port_group_update_acls_delvalue(pg, acl);
    c->response = lq_nb_sg_to_json(pg);
    struct json_array *rules = json_array(shash_find_data(
                                              json_object(c->response),
                                              "rules"));
    for (size_t i = 0; i < rules->n; i++) {
        const struct json *id = shash_find_data(json_object(rules->elems[i]),
                                                "id");
        if (id && !strcmp(json_string(id), c->rule.id)) {
            json_destroy(rules->elems[i]);
            memmove(&rules->elems[i], &rules->elems[i + 1],
                    (rules->n - i - 1) * sizeof *rules->elems);
            rules->n--;
            break;
        }
    }
    return NULL;
}

const struct lq_net_op_class lq_op_create_sg = {
    "CreateSecurityGroup", false, create_sg_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_get_sg = {
    "GetSecurityGroup", false, get_sg_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_list_sgs = {
    "ListSecurityGroups", false, list_sgs_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_delete_sg = {
    "DeleteSecurityGroup", false, delete_sg_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_add_rule = {
    "AddRule", false, add_rule_build, NULL, lq_nb_call_finish,
};
const struct lq_net_op_class lq_op_remove_rule = {
    "RemoveRule", false, remove_rule_build, NULL, lq_nb_call_finish,
};
