#pragma once
/// \file
/// Processes (Tornado's `process`): being written.
