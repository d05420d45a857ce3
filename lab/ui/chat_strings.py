"""Chat tab strings (kept apart from lab/ui/strings.py while the tabs are built in parallel)."""

CHAT_HELP = ("Ask several models the same thing and watch them answer together: the base, your fine-tuned "
             "adapter and your merge side by side. Each pane keeps its own conversation in its model's chat template.")
MODEL_INFO = ("Pick 2–4 models: a Hub id, the bundled default, a local model or merge folder, an adapter folder, "
              "or `BASE+ADAPTER_FOLDER` (adapters share their base's weights in memory). An empty picker hides "
              "its pane.")
PROMPT_PLACEHOLDER = "Type a message and press Enter (Shift+Enter for a new line)."
STOPPED = "Stopped."
NOTHING_TO_STOP = "Nothing is being generated right now."
ARENA_HELP = ("Blind arena: two of the picked models answer under hidden names, in random order. Vote, then "
              "see who was who. Votes are stored and export as a preference dataset (prompt, chosen, rejected) "
              "for DPO, or as thumbs up/down rows (prompt, completion, label) for KTO, in the Train tab.")
ARENA_NEED_BATTLE = "Start a battle first."
ARENA_WAIT = "The two replies are still coming: vote when both have finished."
ARENA_VOTED = "You already voted on this battle; start a new one."
ARENA_STOPPED = "Stopped: the replies were cut short, so this battle takes no vote. Start a new battle to vote."
ARENA_NEW = "Start a new battle (New battle)."
ARENA_STOP_NOTHING = "No battle is being answered right now."
BATCH_HELP = ("Run a list of prompts through every picked model. Type one prompt per line, or upload a .txt, "
              ".csv (a 'prompt' column), .json or .jsonl file.")
ARENA_FORMS = {"dpo": "DPO pairs", "kto": "KTO rows"}
ARENA_FORMS_INFO = ("dpo: decisive votes as (prompt, chosen, rejected). kto: every judged answer with a thumbs up or "
                    "down (prompt, completion, label); 'both bad' counts as two downs.")
ARENA_EXPORTED = {
    "dpo": "Exported {rows} preference rows to `{folder}`. Use it as the dataset of a DPO run in the Train tab.",
    "kto": "Exported {rows} KTO rows to `{folder}`. Use it as the dataset of a KTO run in the Train tab "
           "(preset: KTO from arena votes).",
}
