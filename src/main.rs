//! `ecr-credential-provider`: the kubelet execs this binary; everything happens in `app`.

fn main() -> std::process::ExitCode {
    ecr_credential_provider::app::main()
}
