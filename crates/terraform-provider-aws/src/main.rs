//! The stand-in hashicorp/aws provider binary that Terraform launches (see src/provider).

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
