# Keeps the code quoted in the docs identical to the compiled examples it comes from.
#
#   cmake -DSOURCE_DIR=<repo> -P docs/examples/check_snippets.cmake              # check (CTest)
#   cmake -DSOURCE_DIR=<repo> -DUPDATE=ON -P docs/examples/check_snippets.cmake  # rewrite the docs
#
# A quoted snippet is a marker line followed by a fenced C++ block:
#
#   <!-- snippet: docs/examples/file.cpp [name] -->
#   ```cpp
#   ...the lines between the two "// [name]" lines of file.cpp...
#   ```
#
# The region loses the indentation of its opening tag. Without "[name]" the block holds the whole
# file. A check fails listing every snippet that
# differs; an update copies each region into the block under its marker.
cmake_minimum_required(VERSION 3.25)

if(NOT SOURCE_DIR)
  message(FATAL_ERROR "check_snippets: pass -DSOURCE_DIR=<repository root>")
endif()

set(_documents docs/websocket.md README.md docs/async.md docs/coroutines.md docs/networking.md
               docs/httpserver.md docs/httpclient.md docs/web.md)
set(_fence "```cpp\n")
set(_failures 0)
set(_checked 0)

# Sets `out` to the text a marker quotes, or reports why it cannot and sets `out` to NOTFOUND.
function(snippet_region document marker out)
  string(REGEX REPLACE "<!-- snippet: ([^ ]+).*" "\\1" file "${marker}")
  if(NOT EXISTS "${SOURCE_DIR}/${file}")
    message(SEND_ERROR "${document}: ${marker}: no file ${file}")
    set(${out} NOTFOUND PARENT_SCOPE)
    return()
  endif()
  file(READ "${SOURCE_DIR}/${file}" source)
  if(NOT marker MATCHES " \\[([^]]+)\\] -->$")
    set(${out} "${source}" PARENT_SCOPE)
    return()
  endif()
  set(tag "// [${CMAKE_MATCH_1}]")
  string(FIND "${source}" "${tag}\n" begin)
  if(begin EQUAL -1)
    message(SEND_ERROR "${document}: ${marker}: ${file} has no line '${tag}'")
    set(${out} NOTFOUND PARENT_SCOPE)
    return()
  endif()
  # The indentation of the opening tag is removed from every line of the region.
  string(SUBSTRING "${source}" 0 ${begin} head)
  string(REGEX MATCH "[ ]+$" indent "${head}")
  string(LENGTH "${tag}\n" tag_length)
  math(EXPR begin "${begin} + ${tag_length}")
  string(SUBSTRING "${source}" ${begin} -1 rest)
  string(FIND "${rest}" "${tag}" end)
  if(end EQUAL -1)
    message(SEND_ERROR "${document}: ${marker}: ${file} does not close '${tag}'")
    set(${out} NOTFOUND PARENT_SCOPE)
    return()
  endif()
  # The region ends at the newline before the closing tag, which may be indented.
  string(SUBSTRING "${rest}" 0 ${end} region)
  string(FIND "${region}" "\n" last_newline REVERSE)
  math(EXPR length "${last_newline} + 1")
  string(SUBSTRING "${region}" 0 ${length} region)
  if(NOT indent STREQUAL "")
    string(REPLACE "\n${indent}" "\n" region "\n${region}")
    string(SUBSTRING "${region}" 1 -1 region)
  endif()
  set(${out} "${region}" PARENT_SCOPE)
endfunction()

foreach(_document IN LISTS _documents)
  file(READ "${SOURCE_DIR}/${_document}" _markdown)
  string(REGEX MATCHALL "<!-- snippet: [^ \n]+( \\[[^]\n]+\\])? -->" _markers "${_markdown}")
  foreach(_marker IN LISTS _markers)
    snippet_region("${_document}" "${_marker}" _region)
    if(_region STREQUAL "NOTFOUND")
      math(EXPR _failures "${_failures} + 1")
      continue()
    endif()
    math(EXPR _checked "${_checked} + 1")
    if(UPDATE)
      string(FIND "${_markdown}" "${_marker}\n${_fence}" _at)
      if(_at EQUAL -1)
        message(SEND_ERROR "${_document}: '${_marker}' is not followed by a ```cpp block")
        math(EXPR _failures "${_failures} + 1")
        continue()
      endif()
      string(LENGTH "${_marker}\n${_fence}" _head)
      math(EXPR _start "${_at} + ${_head}")
      string(SUBSTRING "${_markdown}" 0 ${_start} _before)
      string(SUBSTRING "${_markdown}" ${_start} -1 _after)
      string(FIND "${_after}" "```" _close)
      string(SUBSTRING "${_after}" ${_close} -1 _after)
      set(_markdown "${_before}${_region}${_after}")
    else()
      string(FIND "${_markdown}" "${_marker}\n${_fence}${_region}```" _found)
      if(_found EQUAL -1)
        message(SEND_ERROR "${_document}: the code under '${_marker}' differs from its source; "
                           "run docs/examples/check_snippets.cmake with -DUPDATE=ON")
        math(EXPR _failures "${_failures} + 1")
      endif()
    endif()
  endforeach()
  if(UPDATE)
    file(READ "${SOURCE_DIR}/${_document}" _original)
    if(NOT _original STREQUAL _markdown)
      file(WRITE "${SOURCE_DIR}/${_document}" "${_markdown}")
      message(STATUS "check_snippets: updated ${_document}")
    endif()
  endif()
endforeach()

if(_failures GREATER 0)
  message(FATAL_ERROR "check_snippets: ${_failures} snippet(s) out of sync or missing")
endif()
if(_checked EQUAL 0)
  message(FATAL_ERROR "check_snippets: no snippets found; are the markers intact?")
endif()
message(STATUS "check_snippets: ${_checked} snippets match their example files")
