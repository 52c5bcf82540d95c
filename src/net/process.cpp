#include "squall/net/process.hpp"
