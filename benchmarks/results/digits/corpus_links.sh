# Sourced by the make.sh files of this folder: start a corpus as hard links of the digits
# corpus's clips (data/digits/corpus1200) with ../sentences/'s evaluation sets, leaving out
# what training.commands would take for a recorded dataset or a finished corpus (lists, index,
# features), so that it writes them for the new plan.
link_digits_corpus() {
  local into=$1
  rm -rf "$into"
  cp -al data/digits/corpus1200 "$into"
  rm -rf "$into/features" "$into/corpus.json" "$into/summary.json" "$into/clips.jsonl" \
    "$into/eval" "$into/validation_list.txt" "$into/testing_list.txt"
  cp -al data/digits/sentences/corpus/eval "$into/eval"
}
