"""A gRPC NodeDaemonService built from OUR proto/ (test_seed_stubs.py runs
it in a child process: its generated modules have the same names as the
seed's).

    fake_node_server.py GENERATED_DIR

Listens on 127.0.0.1 (a free port, printed as "PORT <n>"), answers a few
methods with fixed data that uses our additions, and stops when its stdin
closes.  CreateVM answers, in `message`, the request as it decoded it
(proto3 JSON), so the client can compare it with what it sent."""
import sys
from concurrent import futures

sys.path.insert(0, sys.argv[1])
import grpc  # noqa: E402
from google.protobuf import empty_pb2, json_format  # noqa: E402
from limiquantix.node.v1 import compute_pb2 as c  # noqa: E402
from limiquantix.node.v1 import node_daemon_pb2 as n  # noqa: E402
from limiquantix.node.v1 import node_daemon_pb2_grpc as rpc  # noqa: E402


class Node(rpc.NodeDaemonServiceServicer):
    def HealthCheck(self, request, context):
        return n.HealthCheckResponse(healthy=True, version="fake",
                                     hypervisor="libvirt",
                                     problems=["ours, field 100"])

    def GetNodeInfo(self, request, context):
        return n.NodeInfoResponse(
            node_id="node-1", hostname="fake",
            cpu=n.CpuInfo(model="TCG", total_threads=2),
            network=[n.NetworkInfo(name="eth0", up=True, mtu=1500)],
            datapath="userspace")

    def CreateVM(self, request, context):
        return c.CreateVMOnNodeResponse(
            vm_id=request.vm_id, created=True,
            message=json_format.MessageToJson(request, sort_keys=True),
            status=c.VMStatusResponse(vm_id=request.vm_id, name=request.name,
                                      state=c.POWER_STATE_STOPPED,
                                      labels=request.labels))

    def StartVM(self, request, context):
        if not request.vm_id:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "vmId: required")
        return empty_pb2.Empty()

    def StopVM(self, request, context):
        return empty_pb2.Empty()

    def ListVMs(self, request, context):
        return c.ListVMsOnNodeResponse(vms=[
            c.VMStatusResponse(vm_id="vm-1", state=c.POWER_STATE_RUNNING,
                               serial_log_path="/var/lib/x.serial.log"),
            c.VMStatusResponse(vm_id="vm-2",
                               state=c.POWER_STATE_SHUTTING_DOWN)])

    def MigrateVM(self, request, context):
        for pct, phase in ((0, c.MIGRATION_PHASE_PREPARING),
                           (50, c.MIGRATION_PHASE_TRANSFERRING),
                           (100, c.MIGRATION_PHASE_COMPLETE)):
            yield c.MigrationProgress(vm_id=request.vm_id,
                                      percent_complete=pct, phase=phase)

    def StreamMetrics(self, request, context):
        for i in range(2):
            yield n.NodeMetrics(cpu_usage_percent=i, vms=[
                c.VMMetrics(vm_id="vm-1", cpu_time_ns=i, disks=[
                    c.VMDiskMetrics(disk_id="root", read_ops=i)])])

    def StreamEvents(self, request, context):
        yield n.NodeEvent(id="1", type=n.EVENT_TYPE_VM_STARTED, vm_id="vm-1")
        yield n.NodeEvent(id="2", type=n.EVENT_TYPE_VM_STOPPED, vm_id="vm-1",
                          metadata={"detail": "SHUTDOWN"})


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    rpc.add_NodeDaemonServiceServicer_to_server(Node(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print("PORT %d" % port, flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
