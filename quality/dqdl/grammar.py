"""The DQDL grammar (lark, LALR) written from the DQDL reference.

It follows the rules of the reference grammar (awslabs/dqdl ``DataQualityDefinitionLanguage.g4``):
a document is ``Metadata = {...}``? ``DataSources = {...}``? variable declarations?
``Rules = [...]`` and/or ``Analyzers = [...]``; a rule is ``RuleType param* condition?
(where "sql")? (labels = [...])? (with tag condition)*``; composite rules join rules with
``and`` / ``or`` (``and`` binds tighter) and parentheses; numbers are arithmetic over literals
and function calls (``avg(last(10)) * 0.9``), ``*`` and ``/`` binding tighter than ``+`` and
``-``. Keywords (``and``, ``or``, ``between``, ``in``, ``not``, ``matches``, ``where``, ``with``,
``null``, ``empty``, ``whitespaces_only``) are never identifiers. A parameter may be preceded by
the connector words ``of`` / ``and`` (``"a" and "b"``); that pair is one token so the LALR parser
tells it apart from a composite ``and``.
"""

from __future__ import annotations

DQDL_GRAMMAR = r"""
start: metadata? data_sources? variable* default_labels? sections

sections: rules analyzers?
        | analyzers

metadata: "Metadata" "=" dictionary
data_sources: "DataSources" "=" dictionary
dictionary: "{" pair ("," pair)* "}"
pair: QUOTED_STRING ":" (QUOTED_STRING | string_list)
string_list: "[" QUOTED_STRING ("," QUOTED_STRING)* "]"

variable: IDENTIFIER "=" (string_value | string_array)
default_labels: "DefaultLabels" "=" "[" [label ("," label)*] "]"

rules: "Rules" "=" "[" [top_rule ("," top_rule)*] "]"
analyzers: "Analyzers" "=" "[" [analyzer ("," analyzer)*] "]"
analyzer: IDENTIFIER parameter*

?top_rule: or_rule
?or_rule: and_rule
        | or_rule OR and_rule -> or_composite
?and_rule: atom_rule
         | and_rule AND atom_rule -> and_composite
?atom_rule: "(" top_rule ")" labels?  -> group
          | dq_rule

dq_rule: IDENTIFIER parameter* condition? where? labels? tag*
parameter: QUOTED_STRING | DATE | IDENTIFIER | var_ref | CONNECTED_STRING
where: "where" QUOTED_STRING
labels: "labels" "=" "[" [label ("," label)*] "]"
label: QUOTED_STRING "=" QUOTED_STRING
tag: "with" IDENTIFIER condition

condition: NOT? BETWEEN operand AND operand          -> between
         | COMPARATOR operand                        -> compare
         | NEGATION? "=" operand                     -> equals
         | NOT? IN "[" operand ("," operand)* "]"    -> in_list
         | NOT? IN var_ref                           -> in_variable
         | NOT? MATCHES QUOTED_STRING                -> matches

?operand: sum
        | string_value
        | date_expression
        | duration
        | size

string_value: QUOTED_STRING | var_ref | NULL | EMPTY | WHITESPACES_ONLY
string_array: "[" string_value ("," string_value)* "]"
var_ref: "$" IDENTIFIER

date_expression: DATE                                  -> date_literal
               | TIME                                  -> time_literal
               | NOW                                   -> now
               | "(" NOW DATE_OP NUMBER DURATION_UNIT ")" -> now_offset
duration: NUMBER DURATION_UNIT
size: NUMBER SIZE_UNIT

?sum: product
    | sum ADD_OP product   -> arithmetic
?product: factor
        | product MUL_OP factor -> arithmetic
?factor: NUMBER                 -> number
       | "-" NUMBER             -> negative_number
       | IDENTIFIER "(" [sum ("," sum)*] ")" -> function_call
       | "(" sum ")"

COMPARATOR: ">=" | "<=" | ">" | "<"
NEGATION: "!"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/"
DATE_OP: "+" | "-"
AND: /and\b/i
OR: /or\b/i
NOT: "not"
IN: "in"
BETWEEN: "between"
MATCHES: "matches"
NULL: /null\b/i
EMPTY: /empty\b/i
WHITESPACES_ONLY: /whitespaces_only\b/i
NOW: "now()"
DURATION_UNIT: /(days|hours|minutes)\b/
SIZE_UNIT: /(B|KB|MB|GB|TB)\b/
DATE.3: /"\d{4}-\d{2}-\d{2}"/
TIME.3: /"\d{1,2}:\d{2}( AM| PM)?"/
CONNECTED_STRING.2: /(and|AND|of|OF)\s+"(\\.|[^"\\])*"/
QUOTED_STRING: /"(\\.|[^"\\])*"/
NUMBER: /\d+(\.\d+)?/
IDENTIFIER: /(?!(and|or|of|not|in|between|matches|where|with|labels|null|empty
              |whitespaces_only|now)\b)[a-z_][a-z0-9_.]*/ix

COMMENT: /#[^\n]*/
%import common.WS
%ignore WS
%ignore COMMENT
"""
