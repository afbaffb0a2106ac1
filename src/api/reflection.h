/* reflection.h: gRPC server reflection (grpc.reflection.v1 and v1alpha
 * ServerReflectionInfo), so that grpcurl-style tools and `buf curl` list
 * and call the node's methods without a schema file.
 *
 * The descriptors are those of proto/ (and gRPC's reflection.proto),
 * compiled into a FileDescriptorSet at build time and linked in
 * (scripts/gen-descriptor-set); the services listed are the ones the
 * daemon serves (its method registry) that the set describes. */
#ifndef LQ_REFLECTION_H
#define LQ_REFLECTION_H 1

struct lq_rpc_registry;

void lq_reflection_register(struct lq_rpc_registry *);

#endif
