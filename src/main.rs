fn main() {
    std::process::exit(torvyn::cli::main());
}
