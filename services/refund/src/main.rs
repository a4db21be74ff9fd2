fn main() -> std::process::ExitCode {
    platform::cli::main(&refund::SPEC)
}
