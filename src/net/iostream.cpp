#include "squall/net/iostream.hpp"
