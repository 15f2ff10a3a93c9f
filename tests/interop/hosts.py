"""Host names that reach loopback for one process tree only: a private mount namespace
(`unshare --mount`) with a hosts file bind-mounted over /etc/hosts. Nothing outside that tree
sees the names, and the file also sends the AWS API hosts to loopback, where nothing listens on
443: an ECR host name in a test can never reach real AWS."""

from servers import LOOPBACK, require_tool

UTIL_LINUX = "apt-get install -y util-linux mount"
# The API hosts a credential helper that ignored AWS_ENDPOINT_URL would call.
AWS_API_HOSTS = ("api.ecr.us-east-1.amazonaws.com", "ecr.us-east-1.amazonaws.com",
                 "ecr-public.us-east-1.amazonaws.com", "api.ecr-public.us-east-1.amazonaws.com",
                 "sts.amazonaws.com", "sts.us-east-1.amazonaws.com")


def write(path, names):
    """A hosts file mapping `names` (and localhost and the AWS API hosts) to 127.0.0.1."""
    path.write_text(f"{LOOPBACK} localhost\n" + "".join(f"{LOOPBACK} {name}\n" for name in (*names, *AWS_API_HOSTS)))
    return path


def private(argv, hosts_file):
    """`argv` run in a mount namespace of its own in which /etc/hosts is `hosts_file`. unshare and
    sh both exec, so the process started is the command's own pid."""
    unshare = require_tool("unshare", UTIL_LINUX)
    require_tool("mount", UTIL_LINUX)
    return [unshare, "--mount", "--propagation", "private", "--", "sh", "-c",
            'mount --bind "$0" /etc/hosts && exec "$@"', str(hosts_file), *[str(arg) for arg in argv]]
