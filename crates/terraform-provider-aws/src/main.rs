//! The stand-in hashicorp/aws provider binary that Terraform launches (see src/provider).

fn main() -> std::process::ExitCode {
    // tf-provider captures a backtrace into every diagnostic's detail when RUST_BACKTRACE is
    // set; diagnostics are what operators read. RUST_LIB_BACKTRACE=0 turns off those captures
    // only (a panic still honours RUST_BACKTRACE). Set before any thread exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    exit_with_parent();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("terraform-provider-aws (efs-dr stand-in): cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve())
}

async fn serve() -> std::process::ExitCode {
    // Both rustls backends are linked (the AWS SDK's aws-lc-rs, tonic's ring): pick one.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match tf_provider::serve("aws", terraform_provider_aws::AwsProvider::default()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-aws (efs-dr stand-in): {e:#}");
            eprintln!("  this binary is started by Terraform; run efs-dr or terraform instead");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Terraform starts the provider and stops it when done; when Terraform itself is killed, the
/// provider would live on, re-parented. It ends as soon as its parent is gone.
///
/// The parent is read when `main` starts, which on a loaded machine can be after the process that
/// started it has already died: the provider is then init's child from its first instruction and
/// there is no change to see. Nothing legitimate runs this binary as init's direct child
/// (Terraform, the launcher or efs-dr always sit between), so that is taken as "parent gone" too.
/// A subreaper other than init adopting an orphan this early is not detected; it is the test
/// harnesses' case, not the field's. `PR_SET_PDEATHSIG` is not used: it fires when the parent's
/// *thread* ends, and Go's runtime ends threads, which would kill a provider Terraform is using.
fn exit_with_parent() {
    use std::os::unix::process::parent_id;
    let parent = parent_id();
    if parent == 1 {
        std::process::exit(0);
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(std::time::Duration::from_millis(250));
        if parent_id() != parent {
            std::process::exit(0);
        }
    });
}
