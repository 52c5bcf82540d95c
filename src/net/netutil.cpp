#include "squall/net/netutil.hpp"
