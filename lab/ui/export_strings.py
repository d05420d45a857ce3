"""Export panel strings (the Artifacts tab's GGUF export)."""

TITLE = "Export to GGUF (llama.cpp, Ollama, LM Studio)"
HELP = ("Turn a model, merge or adapter into GGUF files that llama.cpp, Ollama and LM Studio load, with an Ollama "
        "Modelfile. Each file is read back and loaded through transformers, then compared with the source on fixed "
        "prompts: **top-1 agreement** (how often both pick the same next token) and **mean KL divergence** (0 is "
        "identical; llama.cpp reports the same figure for its quants). Adapters are merged into their base first.")
SUPPORTED = "Architectures: {labels}. Tools: {tools}."
SOURCE_INFO = "Pick a row above and press *Export to GGUF*, or type a Hub id, a folder or BASE+ADAPTER."
NAME_INFO = "The artifact's folder name (default: <source>-gguf). An existing name is refused unless Overwrite."
PUSH_INFO = "Optional: publish the folder as a GGUF repo (NAME or OWNER/NAME), private unless you untick Private."
COLUMNS = ["file", "type", "size", "top-1 agreement", "mean KL divergence"]
JOB_INFO = "Fills itself when an export starts; or paste a job id (from the Jobs tab) and press Enter."
