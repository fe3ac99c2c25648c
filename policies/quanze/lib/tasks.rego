# METADATA
# title: The task a catch-all names
# description: |
#   十四(10), 十七(7), 十八(5), 十九(5), A17: a catch-all names its task (context.assigned_task, an
#   entrustment's task), either as an act of the catalog or in free text. The text is read
#   leniently — case, full-width letters, invisible characters and separators do not hide an act
#   — and failing to read it denies: the catch-alls are allow-lists, never a way around an act's
#   own conditions. Free text is a second line of defence; an application that assigns a
#   catalogued act id gets that act's full conditions.
package quanze.lib.tasks

import rego.v1

# METADATA
# description: |
#   A task description: text with at least two letters (any script). " ", "-" or "." name nothing.
named(task) if {
	is_string(task)
	regex.match(`\pL.*\pL`, task)
}

# METADATA
# description: |
#   The act of the catalog that `task` is, read leniently: "decision.prosecute",
#   "Decision_Prosecute。", "ｄｅｃｉｓｉｏｎ．ｐｒｏｓｅｃｕｔｅ" and "decision.prosecute (本案)" are
#   all decision.prosecute. Undefined when the task is no single act (catch-alls excluded).
catalogued(task) := act if {
	is_string(task)
	letters := _letters(task)
	letters != ""
	act := _acts_by_key[letters]
	not act in _catch_alls
}

_catch_alls := {"task.assigned", "technical.assist", "task.entrusted"}

# METADATA
# description: |
#   The acts `task` names: every act of the catalog whose id it spells (even run into other
#   words), and every act a pattern of catalog.task_patterns finds once the clerical spans
#   (catalog.task_patterns.clerical: printing, serving, binding or recording a document) are
#   taken out — so 送达传唤证 is clerical but 送达起诉书并决定起诉 still names a decision.
names(task) := ids | phrases if {
	is_string(task)
	text := plain(task)
	ids := _ids_spelt(regex.replace(text, `[^a-z]`, ""))
	phrases := _phrases(_without_clerical_spans(text))
}

# Acts whose id the letters of a task spell; text without Latin letters spells none.
_ids_spelt(letters) := set() if letters == ""

_ids_spelt(letters) := {act | some key, act in _acts_by_key; contains(letters, key)} if letters != ""

_phrases(text) := {act |
	some pattern, act in data.quanze.catalog.task_patterns.patterns
	regex.match(pattern, text)
}

# METADATA
# description: |
#   The denial {code task_names_reserved_power, article, item, details} when `task` names an act
#   outside `own` (an object or set of the acting role's own acts); undefined when it names none.
names_outside(task, own, article, item) := {
	"code": "task_names_reserved_power",
	"article": article,
	"item": item,
	"detail_zh": sprintf("所交办、委托事项涉及：%s", [concat("、", sort(outside))]),
	"detail_en": sprintf("the task names %s", [concat(", ", sort(outside))]),
} if {
	outside := {act | some act in names(task); not own[act]}
	count(outside) > 0
}

# METADATA
# description: |
#   `text` lower-cased, full-width Latin letters, digits and separators folded to ASCII and
#   invisible format characters (zero-width spaces, joiners) removed.
plain(text) := strings.replace_n(_fullwidth, regex.replace(lower(text), `\p{Cf}`, ""))

_letters(task) := regex.replace(plain(task), `[^a-z]`, "")

_acts_by_key := {_key(act): act | some act, _ in data.quanze.catalog.actions}

_key(act) := replace(replace(act, ".", ""), "_", "")

# Each pattern on its own: joined, they exceed regorus's compiled-regex size limit.
_without_clerical_spans(text) := strings.replace_n(
	{span: " " | some pattern in data.quanze.catalog.task_patterns.clerical; some span in regex.find_n(pattern, text, -1)},
	text,
)

_fullwidth := {
	"ａ": "a", "ｂ": "b", "ｃ": "c", "ｄ": "d", "ｅ": "e", "ｆ": "f", "ｇ": "g", "ｈ": "h", "ｉ": "i",
	"ｊ": "j", "ｋ": "k", "ｌ": "l", "ｍ": "m", "ｎ": "n", "ｏ": "o", "ｐ": "p", "ｑ": "q", "ｒ": "r",
	"ｓ": "s", "ｔ": "t", "ｕ": "u", "ｖ": "v", "ｗ": "w", "ｘ": "x", "ｙ": "y", "ｚ": "z",
	"０": "0", "１": "1", "２": "2", "３": "3", "４": "4", "５": "5", "６": "6", "７": "7", "８": "8",
	"９": "9", "．": ".", "＿": "_", "　": " ",
}
