fn main() -> std::process::ExitCode {
    platform::cli::main(&training_scheduling::SPEC)
}
