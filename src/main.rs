//! `ecr-credential-provider`: the kubelet execs this binary; everything happens in `app`.

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    ecr_credential_provider::app::main()
}
